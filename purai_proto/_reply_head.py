"""What a response's head says about its body: how the body is delimited and coded,
which framing its chunks come in, and what an error reply asks for (a delay, a new
place). Read once per response, from the header fields the HTTP parser checked; and,
when the connection closed early, what that cut (the head, a ``Content-Length`` body,
a chunked one), in one wording for both parsers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from ._decoding import Framing
from ._error_reply import parse_retry_after
from ._errors import RemoteProtocolError
from ._http import ParseError

__all__ = ["NO_HEAD", "ReplyHead", "body_framing", "read_reply_head", "response_error"]

_NDJSON_TYPES = (b"application/x-ndjson", b"application/ndjson", b"application/jsonl")


class ReplyHead(NamedTuple):
    """The header fields of a response that decide how its body is read.

    Attributes:
        media_type: ``Content-Type`` without its parameters, lowercased.
        encodings: Every ``Content-Encoding`` value, in order.
        content_length: ``Content-Length``, if the body is delimited by it.
        chunked: The body is in chunked coding.
        retry_after: The delay ``Retry-After`` asks for, in seconds.
        location: ``Location``: where a redirect points.
    """

    media_type: bytes = b""
    encodings: tuple[bytes, ...] = ()
    content_length: int | None = None
    chunked: bool = False
    retry_after: float | None = None
    location: bytes | None = None


#: Before any response head has arrived.
NO_HEAD = ReplyHead()


def read_reply_head(headers: Sequence[tuple[bytes, bytes]]) -> ReplyHead:
    """The :class:`ReplyHead` of ``headers`` (lowercased names, as both parsers give)."""
    media_type = b""
    encodings: list[bytes] = []
    content_length = retry_after = date = location = None
    chunked = False
    for name, value in headers:
        if name == b"content-type":
            media_type = value.partition(b";")[0].strip().lower()
        elif name == b"content-encoding":
            encodings.append(value)
        elif name == b"content-length":
            content_length = int(value)  # the parser has checked it is a number
        elif name == b"transfer-encoding":
            chunked = True  # the parsers accept no coding but chunked
        elif name == b"retry-after":
            retry_after = value
        elif name == b"date":
            date = value
        elif name == b"location":
            location = value
    return ReplyHead(
        media_type,
        tuple(encodings),
        content_length,
        chunked,
        None if retry_after is None else parse_retry_after(retry_after, date),
        location,
    )


def body_framing(head: ReplyHead, streamed: bool) -> Framing | None:
    """The framing of a 2xx body's chunks, or ``None`` for one non-streamed reply.

    SSE and NDJSON say so in their media type. PurAI's ``{...}{...}`` comes under any
    type (or none), so a request that asked for a stream is told apart from the bytes.
    """
    if head.media_type == b"text/event-stream":
        return "sse"
    if head.media_type in _NDJSON_TYPES:
        return "ndjson"
    return "auto" if streamed else None


def response_error(
    exc: ParseError,
    *,
    closed: bool,
    head_done: bool,
    received: int,
    body_received: int,
    head: ReplyHead,
    max_header_size: int,
) -> RemoteProtocolError:
    """Our error for the parser's ``exc``, saying what EOF cut when EOF caused it.

    Args:
        exc: What the parser raised.
        closed: The parser had been told of EOF: the bytes before it were all fine.
        head_done: The response's head had been read whole.
        received: Bytes of this response so far, head included.
        body_received: Bytes of its body so far, as sent.
        head: What its head said.
        max_header_size: The limit on the head, for the message.
    """
    if exc.too_large:
        return RemoteProtocolError(
            "the response's status line and headers exceed max_header_size "
            f"({max_header_size} bytes)"
        )
    if not closed:
        return RemoteProtocolError(f"invalid HTTP response: {exc.detail}", offset=exc.offset)
    if not head_done:
        if received == 0:
            reason = "the server closed the connection without sending a response"
        else:
            reason = (
                "the server closed the connection before the response headers were "
                f"complete, after {received} bytes"
            )
    elif head.content_length is not None:
        reason = (
            f"the server closed the connection after {body_received} of the "
            f"{head.content_length} body bytes announced by Content-Length"
        )
    elif head.chunked:
        reason = (
            "the server closed the connection in the middle of the chunked body, "
            f"after {body_received} bytes of body data"
        )
    else:  # pragma: no cover - EOF cuts nothing else
        reason = f"the server closed the connection early: {exc.detail}"
    return RemoteProtocolError(reason, offset=received)
