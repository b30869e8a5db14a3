"""Tests of the engine layer; see tests/__init__.py."""
