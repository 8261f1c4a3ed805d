"""The structured options of a chat request, as OpenAI's API reference lists them.

Each is a Struct with ``omit_defaults``, so an option left unset is not sent. Where
OpenAI's object has a ``type`` that tells its kinds apart (``response_format``) or
that must always be sent (``prediction``, a location's ``"approximate"``), it is the
Struct's tag: msgspec always writes a tag, and reads the right kind back by it.
"""

from __future__ import annotations

from typing import Any, Literal, Union

import msgspec

from ._content import TextPart

__all__ = [
    "ApproximateLocation",
    "AudioOptions",
    "JSONSchema",
    "Prediction",
    "ReasoningEffort",
    "ResponseFormat",
    "ResponseFormatJSONObject",
    "ResponseFormatJSONSchema",
    "ResponseFormatText",
    "StreamOptions",
    "UserLocation",
    "WebSearchOptions",
]

ReasoningEffort = Literal["none", "minimal", "low", "medium", "high", "xhigh"]
"""The values of ``reasoning_effort`` OpenAI knows; other servers may take others."""


class _Option(msgspec.Struct, omit_defaults=True):
    """Base of the options: fields left at their default are not sent."""


class ResponseFormatText(_Option, tag_field="type", tag="text"):
    """Plain text, the default: ``{"type": "text"}``."""


class ResponseFormatJSONObject(_Option, tag_field="type", tag="json_object"):
    """JSON mode, any JSON object: ``{"type": "json_object"}``."""


class JSONSchema(_Option):
    """A JSON Schema the reply must match (Structured Outputs).

    Attributes:
        name: The schema's name: letters, digits, ``_`` and ``-``, up to 64.
        description: What the reply is for, for the model.
        schema: The JSON Schema, as a dict.
        strict: Whether the reply must match the schema exactly.
    """

    name: str
    description: str | None = None
    schema: dict[str, Any] | None = None
    strict: bool | None = None


class ResponseFormatJSONSchema(_Option, tag_field="type", tag="json_schema"):
    """Structured Outputs: ``{"type": "json_schema", "json_schema": {...}}``."""

    json_schema: JSONSchema


ResponseFormat = Union[ResponseFormatText, ResponseFormatJSONObject, ResponseFormatJSONSchema]  # noqa: UP007
"""Any value of ``response_format``."""


class StreamOptions(_Option):
    """``stream_options``: only for a streamed request.

    Attributes:
        include_usage: Send the token counts in a last chunk, whose ``choices`` is
            empty.
        include_obfuscation: Pad chunks with random characters against side channels
            (OpenAI's default is true).
    """

    include_usage: bool | None = None
    include_obfuscation: bool | None = None


class AudioOptions(_Option):
    """``audio``: the spoken reply asked for with ``modalities=["text", "audio"]``.

    Attributes:
        voice: The voice, e.g. ``"alloy"``.
        format: ``"wav"``, ``"aac"``, ``"mp3"``, ``"flac"``, ``"opus"`` or ``"pcm16"``.
    """

    voice: str
    format: str


class Prediction(_Option, tag_field="type", tag="content"):
    """``prediction``: text the reply is expected to repeat mostly, to speed it up.
    On the wire ``{"type": "content", "content": ...}``."""

    content: str | list[TextPart]


class ApproximateLocation(_Option):
    """Where the user roughly is, for a web search."""

    city: str | None = None
    country: str | None = None  # two-letter ISO code, e.g. "US"
    region: str | None = None
    timezone: str | None = None  # IANA name, e.g. "America/Los_Angeles"


class UserLocation(_Option, tag_field="type", tag="approximate"):
    """``{"type": "approximate", "approximate": {...}}``."""

    approximate: ApproximateLocation


class WebSearchOptions(_Option):
    """``web_search_options``: for the models that search the web.

    Attributes:
        search_context_size: ``"low"``, ``"medium"`` (the default) or ``"high"``.
        user_location: Where the user roughly is.
    """

    search_context_size: Literal["low", "medium", "high"] | None = None
    user_location: UserLocation | None = None
