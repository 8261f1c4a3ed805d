"""``ChunkDecoder``: bytes of a streamed reply in, typed chunk objects out.

Theory of operation
-------------------
The decoder is the public face of this package: it checks its arguments, tells the
framing from the first bytes when asked to (``"auto"``: ``{``, ``[`` or an SSE field,
after any whitespace and byte order mark), and hands every later byte to that
framing's class, which finds the values (:mod:`.concatenated`, :mod:`.json_array`,
:mod:`.sse`) and has them decoded (:mod:`.values`).

Everything that goes wrong raises :class:`~purai_proto.RemoteProtocolError` with the
stream offset. When values were completed before the problem, they are returned
first and the error is raised by the next call.
"""

from __future__ import annotations

import re
import typing
from typing import Any, Generic, Literal, TypeVar, overload

from .._errors import LocalProtocolError, RemoteProtocolError
from .._models import ChatCompletionChunk, ErrorBody
from .concatenated import ConcatenatedFraming
from .framing import BOM, BaseFraming, too_large
from .json_array import JsonArrayFraming
from .sse import SseFraming
from .values import values_for

__all__ = ["DEFAULT_MAX_BUFFER_SIZE", "DEFAULT_MAX_OBJECT_SIZE", "ChunkDecoder", "Framing"]

T = TypeVar("T")

Framing = Literal["auto", "concatenated", "sse", "ndjson", "json-array"]
_FRAMINGS = typing.get_args(Framing)

#: Default for ``max_object_size``: the largest single value (or SSE event) accepted.
DEFAULT_MAX_OBJECT_SIZE = 16 * 1024 * 1024
#: Default for ``max_buffer_size``: the most bytes held while waiting for a value.
DEFAULT_MAX_BUFFER_SIZE = 16 * 1024 * 1024

_OPEN_BRACE, _OPEN_BRACKET = 0x7B, 0x5B
# A server-sent event stream starts with a comment or a field the format defines.
_SSE_START = re.compile(rb"(?::|(?:data|event|id|retry)[:\r\n])")
_SSE_FIELDS = (b"data:", b"event:", b"id:", b"retry:")
_SHOWN = 16  # bytes of a stream start shown when it tells no framing


def _could_be_sse(head: bytes | bytearray) -> bool:
    """Whether ``head`` is the start of an SSE field name, so more bytes can tell."""
    return any(field.startswith(head) for field in _SSE_FIELDS)


class ChunkDecoder(Generic[T]):
    """Incremental decoder of a streamed reply's body into typed objects.

    Feed it the body's bytes as they arrive, cut anywhere; each :meth:`feed` returns
    the objects its bytes completed. No I/O happens here.

    Args:
        type: What to decode each value into: any type msgspec can decode
            (:class:`ChatCompletionChunk` by default; ``typing.Any`` gives dicts and
            lists).
        framing: How values are laid out in the body: ``"concatenated"`` (PurAI:
            ``{...}{...}``, whitespace between allowed), ``"sse"`` (server-sent
            events, ``data: [DONE]`` at the end), ``"ndjson"`` (one value a line),
            ``"json-array"`` (one array streamed element by element), or ``"auto"``
            (decided from the first byte that is not whitespace).
        max_object_size: The largest value, or SSE event, accepted, in bytes.
        max_buffer_size: The most bytes held while waiting for a value to complete.
            A value must be held whole before it is decoded, so the smaller of the
            two limits every value, whether it arrives whole or in pieces.

    Raises:
        LocalProtocolError: An unknown framing or a limit that is not positive.

    An error object sent in place of a chunk (PurAI's ``{"status": 500, "error":
    ...}``, OpenAI's ``{"error": {...}}``, or an SSE ``event: error``) comes out as an
    :class:`ErrorBody`, never as a chunk.
    """

    @overload
    def __init__(
        self: ChunkDecoder[ChatCompletionChunk],
        *,
        framing: Framing = ...,
        max_object_size: int = ...,
        max_buffer_size: int = ...,
    ) -> None: ...

    @overload
    def __init__(
        self,
        type: type[T],
        framing: Framing = ...,
        *,
        max_object_size: int = ...,
        max_buffer_size: int = ...,
    ) -> None: ...

    @overload
    def __init__(
        self: ChunkDecoder[Any],
        type: object,
        framing: Framing = ...,
        *,
        max_object_size: int = ...,
        max_buffer_size: int = ...,
    ) -> None: ...

    def __init__(
        self,
        type: Any = ChatCompletionChunk,
        framing: Framing = "auto",
        *,
        max_object_size: int = DEFAULT_MAX_OBJECT_SIZE,
        max_buffer_size: int = DEFAULT_MAX_BUFFER_SIZE,
    ) -> None:
        if framing not in _FRAMINGS:
            raise LocalProtocolError(
                f"unknown framing {framing!r}; expected one of {', '.join(_FRAMINGS)}"
            )
        if max_object_size <= 0 or max_buffer_size <= 0:
            raise LocalProtocolError("max_object_size and max_buffer_size must be positive")
        try:
            self._values = values_for(type)
        except (TypeError, ValueError) as exc:
            raise LocalProtocolError(f"msgspec cannot decode into {type!r}: {exc}") from None
        # A value must be held whole before it can be decoded, so the smaller of the
        # two is the largest value accepted, however the stream is cut.
        self._limit = min(max_object_size, max_buffer_size)
        self.type = type
        self.framing: Framing = framing
        self._framing: BaseFraming | None = None if framing == "auto" else self._make(framing)
        # The framing's feed while feed() may hand it bytes with no other check: None
        # before "auto" knows the framing, after an error and after close(). (One test
        # per call; the bound method is kept, not made again on every call.)
        self._feeding = None if self._framing is None else self._framing.feed
        self._head = bytearray()  # "auto": bytes seen before the framing is known
        self._error: RemoteProtocolError | None = None
        self._closed = False

    @property
    def done(self) -> bool:
        """True once the body said it is complete (SSE ``[DONE]``, an array's ``]``).

        PurAI's concatenated framing has no end marker: its stream ends with the body.
        """
        return self._framing is not None and self._framing.done

    def feed(self, data: bytes | bytearray | memoryview) -> list[T | ErrorBody]:
        """Add bytes of the body; return every object they completed, in order.

        Args:
            data: The next bytes, of any length. ``b""`` adds nothing, but raises an
                error the previous call held back, like any call.

        Returns:
            The decoded objects, and an :class:`ErrorBody` where the server sent an
            error object.

        Raises:
            RemoteProtocolError: The bytes are not a valid stream in this framing, or
                exceed a limit. Objects completed before the problem are returned
                first; the error is raised by the next call.
            LocalProtocolError: :meth:`close` was already called.
        """
        feed = self._feeding
        if feed is None:
            framing = self._before_feed(data)
            if framing is None:
                return []
            data, self._head = self._head, bytearray()  # the bytes _detect() looked at
            feed = self._feeding = framing.feed
        out: list[Any] = []
        try:
            feed(data, out)
        except RemoteProtocolError as exc:
            self._error = exc
            self._feeding = None
            if not out:
                raise
        return out

    def close(self) -> list[T | ErrorBody]:
        """End the stream; return any objects still pending.

        Raises:
            RemoteProtocolError: The stream ended inside a value (or before an
                array's closing bracket), its last bytes are bad, or an earlier
                error is still pending.
        """
        if self._error is not None:
            raise self._error
        if self._closed:
            return []
        self._closed = True
        self._feeding = None
        out: list[Any] = []
        try:
            framing = self._framing
            if framing is None:
                # The stream ended while its first bytes were still being looked at.
                framing = self._detect(b"", final=True)
                if framing is None:
                    return []  # nothing but whitespace
                framing.feed(self._head, out)
                self._head = bytearray()
            framing.close(out)
        except RemoteProtocolError as exc:
            # No call comes after close() to raise a deferred error, so it is raised
            # now: the stream is broken, and values found in its broken tail go with it.
            self._error = exc
            raise
        return out

    # -- internals ------------------------------------------------------------------

    def _make(self, framing: str) -> BaseFraming:
        if framing == "sse":
            return SseFraming(self._values, self._limit)
        if framing == "json-array":
            return JsonArrayFraming(self._values, self._limit)
        return ConcatenatedFraming(self._values, self._limit, ndjson=framing == "ndjson")

    def _before_feed(self, data: bytes | bytearray | memoryview) -> BaseFraming | None:
        """The slow start of feed(): errors, misuse, and telling the framing."""
        if self._error is not None:
            raise self._error
        if self._closed:
            raise LocalProtocolError("feed() called after close()")
        return self._detect(data)

    def _detect(
        self, data: bytes | bytearray | memoryview, *, final: bool = False
    ) -> BaseFraming | None:
        """Tell the framing from the first bytes; None while they cannot tell yet
        (or, with ``final``, when the stream held nothing but whitespace)."""
        head = self._head
        head += data
        bom = len(BOM) if head.startswith(BOM) else 0
        if not bom and head and BOM.startswith(head) and not final:
            return None  # perhaps the start of a byte order mark
        stripped = head[bom:].lstrip()
        start = len(head) - len(stripped)
        if not stripped:
            if len(head) > self._limit:
                raise too_large("a stream start that tells no framing", self._limit, start)
            return None
        undecided = _could_be_sse(stripped) and _SSE_START.match(stripped) is None
        if undecided and not final:
            return None
        first = stripped[0]
        if first == _OPEN_BRACE:
            name: Framing = "concatenated"
        elif first == _OPEN_BRACKET:
            name = "json-array"
        elif _SSE_START.match(stripped):
            name = "sse"
        elif len(stripped) < _SHOWN and not final:
            # Bytes no framing starts with: wait for a few more, so that the message
            # shows the same bytes however the stream was cut.
            return None
        else:
            error = RemoteProtocolError(
                f"cannot tell the framing from the first bytes {bytes(stripped[:_SHOWN])!r}: "
                "expected '{', '[' or a server-sent event field (data:, event:, ...)",
                offset=start,
            )
            self._error = error
            raise error
        self._framing = self._make(name)
        # Feed the framing what came so far, without the byte order mark (its offsets
        # still count from the stream's first byte).
        self._framing.skip(bom)
        self._head = head[bom:]
        return self._framing
