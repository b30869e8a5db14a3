"""Tests of the server layer; see tests/__init__.py."""
