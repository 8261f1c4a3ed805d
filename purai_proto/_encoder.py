"""``StreamEncoder``: objects in, the bytes of a streamed reply out.

Theory of operation
-------------------
The mirror image of :class:`~purai_proto.ChunkDecoder`, for whoever plays the server
(the stand-in PurAI server, test fixtures, recorded-stream generators). Each call
returns the exact bytes to write; nothing is buffered, so a server can send each
object as soon as it is encoded, one HTTP chunk per object. The framings:

* ``"concatenated"``: PurAI's seed format, objects back to back with nothing between
  them and nothing at the end.
* ``"sse"``: OpenAI's server-sent events, ``data: {json}\\n\\n`` per object and
  ``data: [DONE]\\n\\n`` at the end. msgspec writes JSON on one line (a newline in a
  string is escaped), so one ``data:`` line always holds one whole object.
* ``"ndjson"``: one object a line.
* ``"json-array"``: one JSON array, ``[`` first, elements separated by ``,\\n``, ``]``
  last.

Wire form of the models
-----------------------
The models are built for decoding: every field exists with a default, PurAI's and
OpenAI's alike. Encoded as they are, an OpenAI chunk would carry PurAI's
``calledFunctions`` and a PurAI chunk OpenAI's ``system_fingerprint: null``. So
:class:`ChatCompletionChunk` and :class:`ChatCompletion` are written the way servers
write them: fields that are ``None`` are left out, except ``finish_reason``, which
both dialects send as ``null`` until the end; and PurAI's own fields
(``overwritten``, ``calledFunctions``) are sent only with a ``provider``, which every
PurAI reply names. Any other object is encoded by msgspec as it is.
"""

from __future__ import annotations

import typing
from typing import Any, Literal

import msgspec

from ._errors import LocalProtocolError
from ._models import ChatCompletion, ChatCompletionChunk

__all__ = ["StreamEncoder", "StreamFraming", "encode_json"]

StreamFraming = Literal["concatenated", "sse", "ndjson", "json-array"]
_FRAMINGS = typing.get_args(StreamFraming)

# Sent as null by servers of both dialects rather than left out.
_KEPT_NULLS = frozenset({"finish_reason"})
# PurAI's additions, meaningless without a provider.
_PURAI_FIELDS = ("overwritten", "calledFunctions")

_ENCODER = msgspec.json.Encoder()


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: _without_nulls(item)
            for key, item in value.items()
            if item is not None or key in _KEPT_NULLS
        }
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return value


def _wire_form(value: Any) -> Any:
    if not isinstance(value, (ChatCompletionChunk, ChatCompletion)):
        return value
    wire: dict[str, Any] = _without_nulls(msgspec.to_builtins(value))
    if "provider" not in wire:
        for key in _PURAI_FIELDS:
            wire.pop(key, None)
    return wire


def encode_json(value: Any) -> bytes:
    """One value as compact JSON, models in the form servers send them.

    Args:
        value: A :class:`ChatCompletionChunk` or :class:`ChatCompletion` (written
            without the fields its dialect leaves out), or anything msgspec encodes.

    Returns:
        The JSON text, on one line.

    Raises:
        LocalProtocolError: msgspec cannot encode ``value``.
    """
    try:
        return _ENCODER.encode(_wire_form(value))
    except (TypeError, ValueError, msgspec.EncodeError) as exc:
        raise LocalProtocolError(f"cannot encode {type(value).__name__}: {exc}") from None


class StreamEncoder:
    """Incremental encoder of a streamed reply's body.

    Call :meth:`start` (optional), then :meth:`encode` once per object, then
    :meth:`end`; write each result to the body as it is returned.

    Args:
        framing: ``"concatenated"`` (PurAI), ``"sse"`` (OpenAI), ``"ndjson"`` or
            ``"json-array"``.

    Raises:
        LocalProtocolError: An unknown framing.

    Example:
        >>> encoder = StreamEncoder("sse")
        >>> encoder.encode({"a": 1}) + encoder.end()
        b'data: {"a":1}\\n\\ndata: [DONE]\\n\\n'
    """

    def __init__(self, framing: StreamFraming = "concatenated") -> None:
        if framing not in _FRAMINGS:
            raise LocalProtocolError(
                f"unknown framing {framing!r}; expected one of {', '.join(_FRAMINGS)}"
            )
        self.framing: StreamFraming = framing
        self._started = False
        self._count = 0
        self._ended = False

    @property
    def count(self) -> int:
        """How many objects were encoded so far."""
        return self._count

    def start(self) -> bytes:
        """The bytes that open the body: ``[`` for ``"json-array"``, else nothing.

        Optional: :meth:`encode` and :meth:`end` open the array themselves when this
        was not called.

        Raises:
            LocalProtocolError: Called after an object was encoded, or twice.
        """
        if self._started or self._ended:
            raise LocalProtocolError("start() must be called once, before anything else")
        self._started = True
        return b"[" if self.framing == "json-array" else b""

    def encode(self, value: Any) -> bytes:
        """The bytes of one object, framed.

        Args:
            value: A chunk, an error object, or anything msgspec encodes.

        Returns:
            Bytes to write to the body, holding the whole object.

        Raises:
            LocalProtocolError: Called after :meth:`end`, or ``value`` cannot be
                encoded.
        """
        if self._ended:
            raise LocalProtocolError("encode() called after end()")
        body = encode_json(value)
        opener = b"" if self._started else self.start()
        self._count += 1
        framing = self.framing
        if framing == "concatenated":
            return opener + body
        if framing == "sse":
            return b"data: " + body + b"\n\n"
        if framing == "ndjson":
            return body + b"\n"
        return opener + (body if self._count == 1 else b",\n" + body)

    def end(self) -> bytes:
        """The bytes that close the body: ``data: [DONE]\\n\\n`` for ``"sse"``, ``]``
        for ``"json-array"`` (``[]`` if it was never opened), else nothing.

        Raises:
            LocalProtocolError: Called twice.
        """
        if self._ended:
            raise LocalProtocolError("end() called twice")
        opener = b"" if self._started else self.start()
        self._ended = True
        if self.framing == "sse":
            return b"data: [DONE]\n\n"
        if self.framing == "json-array":
            return opener + b"]"
        return b""
