"""HTTP replies written by hand, byte for byte, as servers send them.

The bodies are the dialects' own: PurAI's seed stream (concatenated objects), OpenAI's
SSE, NDJSON, a non-streamed completion, nginx's HTML error page. ``FUZZ_SEEDS`` are
whole replies that the fuzz tests garble.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Sequence
from typing import Any

import msgspec

from .paths import SEED_STREAM

SEED = SEED_STREAM.read_bytes()


def http_reply(
    body: bytes,
    *,
    status: int = 200,
    reason: bytes = b"OK",
    headers: Sequence[tuple[bytes, bytes]] = (),
    framing: str = "length",
    version: bytes = b"1.1",
    chunk_size: int = 97,
) -> bytes:
    """A reply written by hand; ``framing`` is "length", "chunked" or "close"."""
    head = [b"HTTP/%s %d %s\r\n" % (version, status, reason)]
    head += [b"%s: %s\r\n" % (name, value) for name, value in headers]
    if framing == "length":
        head.append(b"Content-Length: %d\r\n" % len(body))
    elif framing == "chunked":
        head.append(b"Transfer-Encoding: chunked\r\n")
        pieces = [body[i : i + chunk_size] for i in range(0, len(body), chunk_size)]
        body = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"
    return b"".join(head) + b"\r\n" + body


def raw_deflate(data: bytes) -> bytes:
    """Deflate without zlib's wrapper: what many servers send as "deflate"."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


def sse(*objects: Any) -> bytes:
    return b"".join(b"data: " + msgspec.json.encode(o) + b"\n\n" for o in objects)


def openai_chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "gpt-4o",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }


OPENAI_SSE = (
    b": keep-alive\n\n"
    + sse(
        openai_chunk({"role": "assistant", "content": ""}),
        openai_chunk({"content": "Hello"}),
        openai_chunk({"content": ", world"}),
        openai_chunk({}, "stop"),
    )
    + b"data: [DONE]\n\n"
)
NDJSON = b"".join(
    msgspec.json.encode(openai_chunk({"content": piece})) + b"\n" for piece in ("one ", "two")
)
COMPLETION = {
    "id": "chatcmpl-2",
    "object": "chat.completion",
    "created": 0,
    "model": "gpt-3.5-turbo",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hi there."},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6},
    "provider": "Churchless",
    "overwritten": False,
    "calledFunctions": [],
}
JSON = (b"Content-Type", b"application/json")
EVENT_STREAM = (b"Content-Type", b"text/event-stream; charset=utf-8")

NGINX_502 = b"""<html>
<head><title>502 Bad Gateway</title></head>
<body>
<center><h1>502 Bad Gateway</h1></center>
<hr><center>nginx</center>
</body>
</html>
"""

FUZZ_SEEDS = [
    http_reply(SEED, framing="chunked", chunk_size=50),
    http_reply(gzip.compress(SEED), headers=[(b"Content-Encoding", b"gzip")]),
    http_reply(
        zlib.compress(OPENAI_SSE),
        headers=[EVENT_STREAM, (b"Content-Encoding", b"deflate")],
        framing="chunked",
    ),
    http_reply(NDJSON, headers=[(b"Content-Type", b"application/x-ndjson")], framing="close"),
    http_reply(msgspec.json.encode(COMPLETION), headers=[JSON]),
    http_reply(
        b'{"status": 500, "error": {"message": "x", "records": []}}',
        status=500,
        headers=[(b"Retry-After", b"3")],
    ),
    http_reply(NGINX_502, status=502, version=b"1.0", framing="close"),
]
