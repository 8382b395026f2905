"""Benchmarks: ``make bench`` (``python -m bench``). Never part of the test suite."""
