"""Benchmarks for purai: measured figures, never pass/fail tests.

Run ``python -m benchmarks`` (every suite; ``--quick`` for a smoke run) from a
checkout, or one suite with ``python -m benchmarks.<suite>``; see docs/benchmarks.md.
"""
