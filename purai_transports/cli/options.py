"""Checking option values after argparse has read them, before anything starts.

argparse checks that a value is a number; whether it is a usable one (a positive
timeout, a header of the form ``Name: value``) is checked here. A bad value raises
:class:`UsageError` with the option's own name, and ``main()`` reports it with the
subcommand's usage, as argparse reports its own errors.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["UsageError", "check_at_least", "check_seconds", "headers_from"]


class UsageError(Exception):
    """An option has a value it cannot have; the message names the option."""


def check_seconds(option: str, value: float) -> float:
    """``value``, if it is a positive, finite number of seconds."""
    if not (value > 0 and math.isfinite(value)):  # NaN fails every comparison
        raise UsageError(f"{option} must be a positive number of seconds, not {value}")
    return value


def check_at_least(option: str, value: float | None, least: float) -> None:
    """Refuse ``value`` (when given) below ``least``, or not finite."""
    if value is not None and not (value >= least and math.isfinite(value)):
        raise UsageError(f"{option} must be {least} or more, not {value}")


def headers_from(option: str, fields: Sequence[str]) -> dict[str, str]:
    """The header fields given as ``Name: value``, each once or more (the last wins)."""
    headers: dict[str, str] = {}
    for field in fields:
        name, colon, value = field.partition(":")
        name = name.strip()
        if not colon or not name or any(c.isspace() for c in name):
            raise UsageError(f"{option} must be 'Name: value', not {field!r}")
        headers[name] = value.strip()
    return headers
