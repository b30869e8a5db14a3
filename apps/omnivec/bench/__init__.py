"""omnivec's benchmark suite: every figure a ratio against the raw library doing the same work.

Run it with ``omnivec bench [--quick] [--only fig1,fig4] [--device cpu|cuda] [--out DIR]``,
``make bench BENCH_ARGS=--quick`` or ``python -m omnivec.bench.suite --quick``. Results go to
``benchmarks/results/`` (timestamped JSON, ``latest.json``, ``latest.md``).
"""

from omnivec.bench.common import BenchContext, FigureResult

__all__ = ["BenchContext", "FigureResult"]
