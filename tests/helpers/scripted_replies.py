"""What a scripted server sends: a reply's steps, and the bytes that make replies.

A :class:`Reply` is a list of steps for :class:`tests.helpers.servers.ScriptedServer`:
bytes to send, pauses, and actions that end or hold the connection. The functions
below write the bytes as servers do: a head, HTTP chunks, PurAI's chunk objects,
server-sent events, gzip, whole streamed replies and error replies. The texts at the
end are what the client tests stream.
"""

from __future__ import annotations

import dataclasses
import enum
import random
import zlib
from collections.abc import Iterable, Sequence

import msgspec

__all__ = [
    "CLOSE",
    "FIRST",
    "HALF",
    "HALF_CLOSE",
    "HANG",
    "JSON_HEAD",
    "LAST_CHUNK",
    "RAGGED",
    "RESET",
    "TEXT",
    "TEXTS",
    "TIMEOUT_408",
    "Action",
    "Pause",
    "Reply",
    "Step",
    "chunk_object",
    "chunked",
    "error_reply",
    "gzip_chunked",
    "head",
    "http_chunk",
    "replayed_reply",
    "sse_event",
    "streamed_reply",
]


# --- what a reply is made of ------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Pause:
    """Send nothing for ``seconds`` (cut short when the server stops)."""

    seconds: float


class Action(enum.Enum):
    """A step that ends the connection, or holds it."""

    CLOSE = "close"  # close (with TLS's close_notify first, over TLS)
    RAGGED = "ragged"  # close the TCP socket under TLS without close_notify
    RESET = "reset"  # close with SO_LINGER 0: the kernel sends RST, the client ECONNRESET
    HANG = "hang"  # send nothing more; keep the connection until the client leaves
    # End the sending side (TCP FIN, no TLS goodbye) and go on with the next step,
    # reading nothing: as a server that answered early does before its close.
    HALF_CLOSE = "half-close"


CLOSE = Action.CLOSE
HALF_CLOSE = Action.HALF_CLOSE
RAGGED = Action.RAGGED
RESET = Action.RESET
HANG = Action.HANG

Step = bytes | Pause | Action


@dataclasses.dataclass(frozen=True)
class Reply:
    """What the server sends for one request.

    Attributes:
        steps: Bytes to send, pauses, and :class:`Action` steps: ``HALF_CLOSE`` goes
            on, any other ends the reply and says what happens to the connection.
        keep_alive: When the steps end without an action: read the connection's next
            request (True) or close it (False).
        read_body: Read the request's body before the steps (True), or answer after
            its head alone, as a server refusing a body too large does (False).
    """

    steps: Sequence[Step]
    keep_alive: bool = False
    read_body: bool = True


# --- bytes on the wire ---------------------------------------------------------------

#: What Apache, HAProxy and Varnish write on a connection that sat idle too long.
TIMEOUT_408 = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"


def head(
    status: int = 200,
    headers: Iterable[tuple[str, str]] = (),
    *,
    version: str = "1.1",
    reason: str = "OK",
) -> bytes:
    """A response's status line and header block."""
    lines = [f"HTTP/{version} {status} {reason}", *(f"{n}: {v}" for n, v in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def http_chunk(data: bytes) -> bytes:
    """One chunk of chunked transfer coding (RFC 9112, section 7.1)."""
    return b"%x\r\n%s\r\n" % (len(data), data)


LAST_CHUNK = b"0\r\n\r\n"


def chunked(pieces: Iterable[bytes]) -> list[bytes]:
    """A whole chunked body: one chunk per piece, then the last chunk."""
    return [*(http_chunk(piece) for piece in pieces), LAST_CHUNK]


def chunk_object(text: str, *, model: str = "test-model") -> bytes:
    """One streamed chunk, as PurAI sends it, adding ``text`` to choice 0."""
    return msgspec.json.encode(
        {
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "created": 0,
            "model": model,
            "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}],
        }
    )


def sse_event(data: bytes) -> bytes:
    """One server-sent event carrying ``data``."""
    return b"data: " + data + b"\n\n"


def gzip_chunked(pieces: Iterable[bytes]) -> list[bytes]:
    """``pieces`` gzip-compressed as one stream, one HTTP chunk per piece.

    A sync flush after each piece lets the client decompress it at once, as a
    streaming server must.
    """
    compressor = zlib.compressobj(wbits=31)  # 31: the gzip container
    compressed = [compressor.compress(p) + compressor.flush(zlib.Z_SYNC_FLUSH) for p in pieces]
    return chunked([*compressed, compressor.flush()])


def streamed_reply(
    texts: Iterable[str],
    *,
    sse: bool = False,
    gzip: bool = False,
    pause: float = 0.0,
    keep_alive: bool = True,
) -> Reply:
    """A well-formed streamed reply with one chunk object per text, chunked.

    Args:
        texts: The text of each chunk.
        sse: Frame the objects as server-sent events (OpenAI's dialect), ending with
            ``[DONE]``; otherwise back to back (PurAI's).
        gzip: Compress the body (``Content-Encoding: gzip``).
        pause: Seconds to wait before each HTTP chunk.
        keep_alive: Serve the connection's next request afterwards.
    """
    objects = [chunk_object(text) for text in texts]
    if sse:
        pieces = [sse_event(obj) for obj in objects] + [sse_event(b"[DONE]")]
        content_type = "text/event-stream"
    else:
        pieces, content_type = objects, "application/json"
    headers = [("Content-Type", content_type), ("Transfer-Encoding", "chunked")]
    if gzip:
        headers.append(("Content-Encoding", "gzip"))
    body = gzip_chunked(pieces) if gzip else chunked(pieces)
    steps: list[Step] = [head(200, headers)]
    for piece in body:
        if pause:
            steps.append(Pause(pause))
        steps.append(piece)
    return Reply(steps, keep_alive=keep_alive)


def error_reply(
    status: int, message: str, *, retry_after: str | None = None, reason: str = "Error"
) -> Reply:
    """An error status with PurAI's error body, on a connection kept alive."""
    body = msgspec.json.encode({"status": status, "error": {"message": message}})
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    if retry_after is not None:
        headers.append(("Retry-After", retry_after))
    return Reply([head(status, headers, reason=reason) + body], keep_alive=True)


def replayed_reply(body: bytes, *, content_type: str = "text/event-stream", seed: int = 0) -> Reply:
    """A captured response body sent again as it came: under ``content_type``, in HTTP
    chunks cut at random points (from ``seed``), each sent by itself, on a connection
    kept alive."""
    rng = random.Random(seed)
    pieces, pos = [], 0
    while pos < len(body):
        step = rng.randint(1, 200)
        pieces.append(body[pos : pos + step])
        pos += step
    headers = [("Content-Type", content_type), ("Transfer-Encoding", "chunked")]
    return Reply([head(200, headers), *chunked(pieces)], keep_alive=True)


# --- what the client tests stream ---------------------------------------------------

# Text that a decoder cutting at the wrong place would garble: multi-byte UTF-8 (two
# and four bytes) and the "}{" that naive splitters cut PurAI's stream at.
TEXTS = ["Hel", "lo, ", "wörld", ' }{"', "🚀!"]
TEXT = "".join(TEXTS)
JSON_HEAD = head(200, [("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")])
FIRST = http_chunk(chunk_object(TEXTS[0]))  # the first text's chunk
HALF = chunk_object(TEXTS[1])[:20]  # the second text's object, cut in two
