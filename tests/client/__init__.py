"""Tests of the client layer; see tests/__init__.py."""
