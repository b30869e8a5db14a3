"""Tests of the cli layer; see tests/__init__.py."""
