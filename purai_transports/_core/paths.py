"""Defaults every client shares: the endpoint path and where the base URL comes from."""

from __future__ import annotations

import os

# PurAI's chat endpoint, decided in the core; OpenAI-compatible servers use
# /v1/chat/completions (or /chat/completions under a base URL ending in /v1).
from purai_proto import DEFAULT_PATH, LocalProtocolError

__all__ = ["DEFAULT_PATH", "default_base_url"]


def default_base_url(base_url: str | None) -> str:
    """``base_url``, or the ``PURAI_BASE_URL`` environment variable."""
    if base_url:
        return base_url
    from_env = os.environ.get("PURAI_BASE_URL")
    if not from_env:
        raise LocalProtocolError("no base_url given, and PURAI_BASE_URL is not set")
    return from_env
