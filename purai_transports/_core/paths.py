"""Where a request goes under a base URL, and what a 404 probably meant.

Two conventions meet here. PurAI's base URL is the server's root, and its endpoints
name a company: ``/openai/chat/completions``, ``/openai/models``. OpenAI's base URL
ends in ``/v1`` (``https://api.openai.com/v1``, ``http://localhost:8000/v1`` for vLLM,
Ollama, llama.cpp, LM Studio), and its endpoints follow it: ``/chat/completions``,
``/models``. A base URL whose path ends in ``/v1`` gets OpenAI's paths by default;
any other keeps PurAI's.

Mixing the two up is the usual cause of a 404, so a 404 names the URL that was tried
and, when the path is one of these, the base URL or path that was probably meant.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from purai_proto import DEFAULT_PATH, LocalProtocolError

if TYPE_CHECKING:  # settings.py imports this module for default_base_url
    from .settings import Origin

__all__ = [
    "DEFAULT_PATH",
    "OPENAI_CHAT_PATH",
    "chat_path",
    "default_base_url",
    "models_path",
    "not_found_hint",
]

#: The chat endpoint under a base URL ending in ``/v1``, as OpenAI's clients use it.
OPENAI_CHAT_PATH = "/chat/completions"
OPENAI_MODELS_PATH = "/models"
#: PurAI's list of the models its default endpoint (DEFAULT_PATH) serves.
PURAI_MODELS_PATH = "/openai/models"


def default_base_url(base_url: str | None) -> str:
    """``base_url``, or the ``PURAI_BASE_URL`` environment variable."""
    if base_url:
        return base_url
    from_env = os.environ.get("PURAI_BASE_URL")
    if not from_env:
        raise LocalProtocolError("no base_url given, and PURAI_BASE_URL is not set")
    return from_env


def _openai_style(origin: Origin) -> bool:
    return origin.prefix.endswith("/v1")


def chat_path(origin: Origin) -> str:
    """The chat endpoint a request goes to when given no ``path``."""
    return OPENAI_CHAT_PATH if _openai_style(origin) else DEFAULT_PATH


def models_path(origin: Origin) -> str:
    """The endpoint that lists the models: ``{base}/models`` under a base URL ending
    in ``/v1``, PurAI's ``/openai/models`` under any other."""
    return OPENAI_MODELS_PATH if _openai_style(origin) else PURAI_MODELS_PATH


# The paths a caller may have meant under either convention.
_KNOWN = (DEFAULT_PATH, OPENAI_CHAT_PATH, PURAI_MODELS_PATH, OPENAI_MODELS_PATH)


def not_found_hint(origin: Origin, path: str) -> str | None:
    """What was probably meant when ``path`` (under ``origin``'s prefix) got a 404.

    Returns:
        A sentence to add to the error, or ``None`` when nothing fits: the path is
        none of the known ones, or the two conventions were not mixed up.
    """
    base = str(origin)
    if _openai_style(origin):
        if path.startswith("/v1/"):
            return f"the base URL ends in /v1 already: did you mean path={path[3:]!r}?"
        if path in (DEFAULT_PATH, PURAI_MODELS_PATH):
            # PurAI's endpoint under OpenAI's base URL: one of the two is off.
            return (
                f"under a base URL ending in /v1 the path is {OPENAI_CHAT_PATH!r} (leave "
                f"path out); for PurAI's endpoints, did you mean base_url={base[:-3]!r}?"
            )
        return None
    if path in _KNOWN:
        return (
            "an OpenAI-compatible server's base URL ends in /v1: did you mean "
            f"base_url={base + '/v1'!r}?"
        )
    return None
