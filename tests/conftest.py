"""Shared test configuration.

Hypothesis profiles: "default" keeps the suite quick enough for every CI run; set
``HYPOTHESIS_PROFILE=long`` for the long runs documented in docs/reliability.md.

The summary lists failures and errors only (``-rfE``): a missing accelerator is said
once, below, not once for every test of it.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

from tests.helpers.parsers import HTTP_PARSERS, HTTPTOOLS_MISSING

settings.register_profile("default", max_examples=300, deadline=None)
settings.register_profile(
    "long", max_examples=20_000, deadline=None, suppress_health_check=list(HealthCheck)
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if "httptools" not in HTTP_PARSERS:
        terminalreporter.write_line(f"{HTTPTOOLS_MISSING}: the HTTP tests ran with h11 only")
