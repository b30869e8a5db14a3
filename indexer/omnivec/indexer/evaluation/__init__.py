"""Retrieval evaluation on labelled queries (``omnivec eval``): figures per configuration with
bootstrap intervals, paired differences, and fusion weights tuned by cross-validation."""

from omnivec.indexer.evaluation.queries import check_queries, load_queries
from omnivec.indexer.evaluation.runner import EvalProgressCallback, check_options, evaluate

__all__ = ["EvalProgressCallback", "check_options", "check_queries", "evaluate", "load_queries"]
