"""Benchmarks for purai: measured figures, never pass/fail tests.

Run ``python -m benchmarks`` (the decoder suite) from a checkout; see docs/benchmarks.md.
"""
