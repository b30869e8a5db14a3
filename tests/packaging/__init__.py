"""Tests of what ships: the wheels, installed on their own; see tests/__init__.py."""
