"""The events :class:`~purai_proto.ClientConnection` returns from ``next_event()``.

One response produces, in order: one :class:`ResponseStarted`; then
:class:`ChunkReceived` for each streamed chunk, or one :class:`CompletionReceived` for a
non-streamed reply; :class:`ErrorReceived` where the server reported an error (an HTTP
error status, or an error object inside a stream); and last :class:`StreamEnded`.
When the connection has nothing to say until more bytes arrive it returns the
:data:`NEED_DATA` sentinel instead.

Events are msgspec Structs: frozen, slotted, keyword-only, compared by value, and cheap
to create (one is created per streamed chunk, so that cost matters). They hold no
references back to the connection, so they never form cycles (``gc=False``).
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Final, Generic, TypeAlias

import msgspec

from ._models import ChatCompletion, ChatCompletionChunk, ErrorBody

if TYPE_CHECKING:
    # Type parameters with defaults (PEP 696), so that a bare ``ChunkReceived`` means
    # the built-in types; at run time a TypeVar needs none of that.
    from typing_extensions import TypeVar

    ChunkT = TypeVar("ChunkT", default=ChatCompletionChunk)
    CompletionT = TypeVar("CompletionT", default=ChatCompletion)
else:
    from typing import TypeVar

    ChunkT = TypeVar("ChunkT")
    CompletionT = TypeVar("CompletionT")

__all__ = [
    "NEED_DATA",
    "ChunkReceived",
    "ChunkT",
    "CompletionReceived",
    "CompletionT",
    "ErrorReceived",
    "Event",
    "NeedData",
    "ResponseStarted",
    "StreamEnded",
]


class NeedData(enum.Enum):
    """The type of :data:`NEED_DATA` (an enum of one member, so that type checkers
    narrow ``event is NEED_DATA`` correctly)."""

    NEED_DATA = "NEED_DATA"

    def __repr__(self) -> str:
        return "NEED_DATA"


#: Returned by ``next_event()`` when no event can be produced until more bytes (or
#: the end of the stream) are passed to ``receive_data()``.
NEED_DATA: Final = NeedData.NEED_DATA


class ResponseStarted(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The status line and headers of a response arrived.

    Attributes:
        status: The HTTP status code, e.g. ``200``.
        headers: The header fields in the order received, as ``(name, value)`` pairs of
            bytes, names lowercased.
        reason: The reason phrase, e.g. ``b"OK"`` (servers may send none).
    """

    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    reason: bytes = b""


class ChunkReceived(msgspec.Struct, Generic[ChunkT], frozen=True, kw_only=True, gc=False):
    """One streamed chunk was decoded.

    Attributes:
        chunk: The chunk, of the connection's ``chunk_type``
            (:class:`~purai_proto.ChatCompletionChunk` unless chosen otherwise);
            ``chunk.text`` is the text it adds to the first choice.
    """

    chunk: ChunkT


class CompletionReceived(msgspec.Struct, Generic[CompletionT], frozen=True, kw_only=True, gc=False):
    """A whole, non-streamed reply was decoded (the request had ``stream`` unset or
    false and the server answered with one JSON object).

    Attributes:
        completion: The reply, of the connection's ``completion_type``
            (:class:`~purai_proto.ChatCompletion` unless chosen otherwise).
    """

    completion: CompletionT


class ErrorReceived(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The server reported an error, with an HTTP error status or with an error object
    inside a stream that began with a success status.

    Attributes:
        status: The HTTP status of the reply; for an error object inside a stream, the
            ``status`` it carries, or the reply's status when it carries none.
        message: The server's message, whichever shape the body had; for an HTML or
            plain-text body, a short excerpt of its text.
        body: The body decoded as an :class:`ErrorBody` when it was a JSON object, else
            ``None``.
        retry_after: Seconds to wait before retrying, from the ``Retry-After`` header
            (a number of seconds or an HTTP date), or ``None``.
        excerpt: The start of the body as text, for logs (up to 1000 characters).
        in_stream: True for an error object that arrived inside a stream (after any
            chunks that came before it), false for an HTTP error status.
    """

    status: int
    message: str
    body: ErrorBody | None = None
    retry_after: float | None = None
    excerpt: str = ""
    in_stream: bool = False


class StreamEnded(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The response is complete. Nothing more comes for this request; see
    ``ClientConnection.reusable`` for whether the next request may follow on the same
    connection."""


Event: TypeAlias = (
    ResponseStarted
    | ChunkReceived[ChunkT]
    | CompletionReceived[CompletionT]
    | ErrorReceived
    | StreamEnded
)
"""Any event ``next_event()`` returns (besides :data:`NEED_DATA`); ``Event`` alone is
``Event[ChatCompletionChunk, ChatCompletion]``."""
