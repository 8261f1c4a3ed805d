"""Shared test configuration.

Hypothesis profiles: "default" keeps the suite quick enough for every CI run; set
``HYPOTHESIS_PROFILE=long`` for the long runs documented in docs/reliability.md.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile("default", max_examples=300, deadline=None)
settings.register_profile(
    "long", max_examples=20_000, deadline=None, suppress_health_check=list(HealthCheck)
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
