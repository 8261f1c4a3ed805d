"""ClientConnection against crafted server replies and against h11 playing the server.

Every reply is fed whole, one byte at a time, and cut at random points (seeded
``random`` and hypothesis), and the events must be the same every way.
"""

from __future__ import annotations

import gzip
import subprocess
import sys
import tracemalloc
import zlib
from collections.abc import Callable, Iterable
from functools import cache
from typing import Any

import h11
import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import purai_proto
from purai_proto import (
    NEED_DATA,
    ChatCompletion,
    ChatRequest,
    ChunkReceived,
    ClientConnection,
    CompletionReceived,
    ErrorReceived,
    HttpParserName,
    LocalProtocolError,
    RemoteProtocolError,
    ResponseStarted,
    StreamAccumulator,
    StreamEnded,
)
from purai_proto._content_encoding import BodyDecompressor, decompressor_for
from tests.helpers.connection import (
    HOST,
    NOT_STREAMED,
    STREAM,
    Raised,
    chunks_of,
    connect,
    cut_at,
    drive,
    feeding_ways,
    kinds,
    new_connection,
    run,
    text_of,
)
from tests.helpers.paths import ROOT
from tests.helpers.replies import (
    COMPLETION,
    EVENT_STREAM,
    FUZZ_SEEDS,
    JSON,
    NDJSON,
    NGINX_502,
    OPENAI_SSE,
    SEED,
    http_reply,
    openai_chunk,
    sse,
)
from tests.helpers.splitting import split_ways

# --- the request --------------------------------------------------------------------


def parse_request(data: bytes) -> tuple[h11.Request, bytes]:
    server = h11.Connection(h11.SERVER)
    server.receive_data(data)
    request = server.next_event()
    assert isinstance(request, h11.Request)
    body = b""
    while True:
        event = server.next_event()
        if isinstance(event, h11.EndOfMessage):
            return request, body
        assert isinstance(event, h11.Data)
        body += event.data


def test_request_head_and_body(http_parser: HttpParserName) -> None:
    conn = connect(http_parser=http_parser)
    request, body = parse_request(conn.send_request(STREAM, api_key="purgpt-abc"))
    assert request.method == b"POST"
    assert request.target == b"/openai/chat/completions"
    headers = dict(request.headers)
    assert headers[b"host"] == HOST.encode()
    assert headers[b"authorization"] == b"Bearer purgpt-abc"
    assert headers[b"content-type"] == b"application/json"
    assert b"text/event-stream" in headers[b"accept"]
    assert headers[b"accept-encoding"] == b"gzip, deflate"
    assert headers[b"user-agent"] == f"purai/{purai_proto.__version__}".encode()
    assert headers[b"content-length"] == str(len(body)).encode()
    # Unset fields are left out, not sent as null.
    assert msgspec.json.decode(body) == {
        "messages": [{"role": "user", "content": "Hi"}],
        "model": "gpt-3.5-turbo",
        "stream": True,
    }


@pytest.mark.parametrize(
    "path",
    ["/openai/chat/completions", "/third-party/chat/completions", "/v1/chat/completions"],
)
def test_request_paths(http_parser: HttpParserName, path: str) -> None:
    conn = connect(http_parser=http_parser)
    request, _ = parse_request(conn.send_request(NOT_STREAMED, path=path))
    assert request.target == path.encode()
    assert dict(request.headers)[b"accept"] == b"application/json"
    assert b"authorization" not in dict(request.headers)


def test_extra_headers_add_and_replace(http_parser: HttpParserName) -> None:
    conn = connect(http_parser=http_parser)
    data = conn.send_request(
        STREAM,
        headers=[("User-Agent", "mine/1"), ("X-Trace", b"abc"), ("X-Trace", "d\te ")],
    )
    request, _ = parse_request(data)
    assert dict(request.headers)[b"user-agent"] == b"mine/1"
    assert [v for k, v in request.headers if k == b"x-trace"] == [b"abc", b"d\te"]
    assert data.count(b"User-Agent") == 1
    conn = connect(http_parser=http_parser)
    request, _ = parse_request(conn.send_request(STREAM, headers={"accept": "text/plain"}))
    assert [v for k, v in request.headers if k == b"accept"] == [b"text/plain"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"api_key": "key\r\nX-Evil: 1"}, "API key contains CR, LF or another control"),
        ({"api_key": "key\n"}, "API key contains CR, LF or another control"),
        ({"headers": {"X-A": "a\rb"}}, "header X-A contains CR, LF or another control"),
        ({"headers": {"X-A": b"a\nb"}}, "header X-A contains CR, LF or another control"),
        ({"headers": {"X-A": "a\x00b"}}, "header X-A contains CR, LF or another control"),
        ({"headers": {"X-A\r\nX-B": "b"}}, "invalid header name"),
        ({"headers": {"Bad Name": "b"}}, "invalid header name"),
        ({"headers": {"X-A": "café"}}, "not ASCII"),
        ({"headers": {"X-A": "a\x01b"}}, "header X-A contains CR, LF or another control"),
        ({"headers": {"X-A": "a\x7f"}}, "header X-A contains CR, LF or another control"),
        ({"headers": {"X-A": 5}}, "must be str or bytes"),
        ({"headers": ["X-A"]}, "mapping or"),
        ({"headers": {"Content-Length": "5"}}, "Content-Length is set by the connection"),
        ({"headers": {"transfer-encoding": "chunked"}}, "set by the connection"),
        ({"path": "/a b"}, "the path must start with '/'"),
        ({"path": "/a\r\nX: y"}, "the path must start with '/'"),
        ({"path": "v1/chat"}, "the path must start with '/'"),
    ],
)
def test_bad_header_values_are_refused_before_sending(
    http_parser: HttpParserName, kwargs: dict[str, Any], match: str
) -> None:
    conn = connect(http_parser=http_parser)
    with pytest.raises(LocalProtocolError, match=match):
        conn.send_request(STREAM, **kwargs)
    # Nothing was sent: the connection is as good as new.
    assert conn.reusable
    conn.send_request(STREAM)
    assert text_of(drive(conn, [http_reply(SEED)], eof=False)) == "AI language model."


def test_the_api_key_is_not_quoted_in_the_error(http_parser: HttpParserName) -> None:
    with pytest.raises(LocalProtocolError) as info:
        connect(http_parser=http_parser).send_request(STREAM, api_key="secret-key\r\n")
    assert "secret" not in str(info.value)


@pytest.mark.parametrize("host", ["", "a\r\nb", "a\nb"])
def test_bad_host(http_parser: HttpParserName, host: str) -> None:
    with pytest.raises(LocalProtocolError):
        ClientConnection(host, http_parser=http_parser)


def test_unencodable_request(http_parser: HttpParserName) -> None:
    conn = connect(http_parser=http_parser)
    with pytest.raises(LocalProtocolError, match="cannot encode"):
        conn.send_request(ChatRequest(logit_bias={"a": object()}))  # type: ignore[dict-item]


def test_limits_must_be_positive(http_parser: HttpParserName) -> None:
    with pytest.raises(LocalProtocolError, match="positive"):
        connect(max_decompressed_size=0, http_parser=http_parser)


# --- body delimitation --------------------------------------------------------------


@pytest.mark.parametrize(
    ("framing", "version", "eof"),
    [
        ("length", b"1.1", False),
        ("chunked", b"1.1", False),
        ("close", b"1.1", True),
        ("close", b"1.0", True),
        ("length", b"1.0", False),
    ],
)
def test_seed_stream_every_delimitation(
    http_parser: HttpParserName, framing: str, version: bytes, eof: bool
) -> None:
    reply = http_reply(SEED, framing=framing, version=version, headers=[JSON])
    events, conn = run(reply, eof=eof, http_parser=http_parser)
    assert isinstance(events[0], ResponseStarted)
    assert events[0].status == 200
    assert (b"content-type", b"application/json") in events[0].headers
    assert kinds(events[1:]) == ["ChunkReceived"] * 4 + ["StreamEnded"]
    assert "".join(c.text for c in chunks_of(events)) == "AI language model."
    assert text_of(events) == "AI language model."
    # Only HTTP/1.1 with a delimited body can carry the next request.
    assert conn.reusable == (version == b"1.1" and framing != "close")


def test_seed_with_no_content_type_is_told_from_its_bytes(http_parser: HttpParserName) -> None:
    events, _ = run(
        http_reply(SEED, headers=[(b"Content-Type", b"text/plain")]), http_parser=http_parser
    )
    assert text_of(events) == "AI language model."
    events, _ = run(http_reply(SEED), http_parser=http_parser)
    assert text_of(events) == "AI language model."


def test_sse_from_content_type(http_parser: HttpParserName) -> None:
    events, conn = run(
        http_reply(OPENAI_SSE, headers=[EVENT_STREAM], framing="chunked"), http_parser=http_parser
    )
    assert kinds(events) == ["ResponseStarted"] + ["ChunkReceived"] * 4 + ["StreamEnded"]
    completion = StreamAccumulator(events).completion()
    assert completion.text == "Hello, world"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.choices[0].message.role == "assistant"
    assert conn.reusable


def test_sse_is_sse_even_for_a_non_streamed_request(http_parser: HttpParserName) -> None:
    events, _ = run(
        http_reply(OPENAI_SSE, headers=[EVENT_STREAM]),
        request=NOT_STREAMED,
        http_parser=http_parser,
    )
    assert text_of(events) == "Hello, world"


def test_ndjson_from_content_type(http_parser: HttpParserName) -> None:
    events, _ = run(
        http_reply(NDJSON, headers=[(b"Content-Type", b"application/x-ndjson")]),
        http_parser=http_parser,
    )
    assert [c.text for c in chunks_of(events)] == ["one ", "two"]


def test_non_streamed_reply_gives_a_completion(http_parser: HttpParserName) -> None:
    body = msgspec.json.encode(COMPLETION)
    events, conn = run(
        http_reply(body, headers=[JSON]), request=NOT_STREAMED, http_parser=http_parser
    )
    assert kinds(events) == ["ResponseStarted", "CompletionReceived", "StreamEnded"]
    completion = events[1].completion
    assert isinstance(completion, ChatCompletion)
    assert completion.text == "Hi there."
    assert completion.provider == "Churchless"
    assert completion.usage is not None
    assert completion.usage.total_tokens == 6
    assert StreamAccumulator(events).completion() is completion
    assert conn.reusable


def test_non_streamed_reply_with_an_error_object(http_parser: HttpParserName) -> None:
    body = b'{"error": {"message": "quota exceeded", "type": "insufficient_quota"}}'
    events, conn = run(
        http_reply(body, headers=[JSON]), request=NOT_STREAMED, http_parser=http_parser
    )
    assert kinds(events) == ["ResponseStarted", "ErrorReceived", "StreamEnded"]
    assert events[1].message == "quota exceeded"
    assert events[1].status == 200
    assert not conn.reusable


def test_empty_success_body(http_parser: HttpParserName) -> None:
    events, _ = run(http_reply(b"", headers=[JSON]), request=NOT_STREAMED, http_parser=http_parser)
    assert kinds(events) == ["ResponseStarted", "StreamEnded"]


@pytest.mark.parametrize(
    "informational",
    [
        b"HTTP/1.1 100 Continue\r\n\r\n",
        b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n",
        # A 1xx's Connection field says nothing about the final response.
        b"HTTP/1.1 100 Continue\r\nConnection: close\r\n\r\n",
    ],
)
@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_informational_responses_are_skipped(
    http_parser: HttpParserName, informational: bytes, framing: str
) -> None:
    events, conn = run(informational + http_reply(SEED, framing=framing), http_parser=http_parser)
    assert kinds(events)[0] == "ResponseStarted"
    assert events[0].status == 200
    assert text_of(events) == "AI language model."
    assert conn.reusable


def test_eof_after_an_informational_response(http_parser: HttpParserName) -> None:
    reply = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 2"
    events, _ = run(reply, eof=True, http_parser=http_parser)
    assert events == [
        Raised(
            "the server closed the connection before the response headers were complete, "
            f"after {len(reply)} bytes (at byte {len(reply)})"
        )
    ]


def test_header_fields_come_as_h11_gives_them(http_parser: HttpParserName) -> None:
    # Names lowercased, values without the whitespace around them (RFC 9110, section
    # 5.5), Transfer-Encoding lowercased, whatever the parser.
    head = (
        b"HTTP/1.1 200 All  good \r\n"
        b"X-Foo:  Bar \t\r\n"
        b"CONTENT-type:\tapplication/json\r\n"
        b"Transfer-Encoding: Chunked\r\n"
        b"X-Empty:\r\n"
        b"X-Spaces:   \r\n"
        b"x-foo: again\r\n\r\n"
    )
    reply = head + http_reply(SEED, framing="chunked").partition(b"\r\n\r\n")[2]
    events, conn = run(reply, http_parser=http_parser)
    assert events[0] == ResponseStarted(
        status=200,
        reason=b"All  good ",
        headers=(
            (b"x-foo", b"Bar"),
            (b"content-type", b"application/json"),
            (b"transfer-encoding", b"chunked"),
            (b"x-empty", b""),
            (b"x-spaces", b""),
            (b"x-foo", b"again"),
        ),
    )
    assert text_of(events) == "AI language model."
    assert conn.reusable


def test_status_line_without_a_reason(http_parser: HttpParserName) -> None:
    for line in (b"HTTP/1.1 200\r\n", b"HTTP/1.1 200 \r\n"):
        events, _ = run(line + http_reply(SEED).partition(b"\r\n")[2], http_parser=http_parser)
        assert events[0].reason == b""
        assert text_of(events) == "AI language model."


def test_body_delimited_by_closing_on_http_1_1(http_parser: HttpParserName) -> None:
    events, conn = run(b"HTTP/1.1 200 OK\r\n\r\n" + SEED, eof=True, http_parser=http_parser)
    assert text_of(events) == "AI language model."
    assert isinstance(events[-1], StreamEnded)
    assert not conn.reusable


def test_no_body_for_204_and_304_whatever_the_fields_say(http_parser: HttpParserName) -> None:
    # RFC 9112, section 6.3, rule 1.
    reply = b"HTTP/1.1 204 No Content\r\nContent-Length: 20\r\n\r\n"
    events, conn = run(reply, request=NOT_STREAMED, http_parser=http_parser)
    assert kinds(events) == ["ResponseStarted", "StreamEnded"]
    assert conn.reusable
    reply = b"HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n"
    events, _ = run(reply, request=NOT_STREAMED, http_parser=http_parser)
    assert kinds(events) == ["ResponseStarted", "ErrorReceived", "StreamEnded"]


# --- content encodings --------------------------------------------------------------


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


ENCODINGS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress,
    "x-gzip": gzip.compress,
    "deflate": zlib.compress,  # RFC 9110: zlib-wrapped
    "raw-deflate": raw_deflate,  # what many servers send as "deflate"
}


@pytest.mark.parametrize("name", sorted(ENCODINGS))
@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_compressed_seed(http_parser: HttpParserName, name: str, framing: str) -> None:
    coding = b"deflate" if name == "raw-deflate" else name.encode()
    body = ENCODINGS[name](SEED)
    reply = http_reply(
        body, headers=[JSON, (b"Content-Encoding", coding)], framing=framing, chunk_size=7
    )
    events, conn = run(reply, http_parser=http_parser)
    assert text_of(events) == "AI language model."
    assert conn.reusable


def test_compressed_sse(http_parser: HttpParserName) -> None:
    headers = [EVENT_STREAM, (b"Content-Encoding", b"gzip")]
    events, _ = run(
        http_reply(gzip.compress(OPENAI_SSE), headers=headers, framing="chunked"),
        http_parser=http_parser,
    )
    assert text_of(events) == "Hello, world"


def test_compressed_completion(http_parser: HttpParserName) -> None:
    body = zlib.compress(msgspec.json.encode(COMPLETION))
    headers = [JSON, (b"Content-Encoding", b"deflate")]
    events, _ = run(
        http_reply(body, headers=headers), request=NOT_STREAMED, http_parser=http_parser
    )
    assert events[1].completion.text == "Hi there."


def test_gzip_members_back_to_back(http_parser: HttpParserName) -> None:
    half = len(SEED) // 2
    body = gzip.compress(SEED[:half]) + gzip.compress(SEED[half:])
    events, _ = run(
        http_reply(body, headers=[(b"Content-Encoding", b"gzip")]), http_parser=http_parser
    )
    assert text_of(events) == "AI language model."


def test_two_codings_are_undone_in_reverse(http_parser: HttpParserName) -> None:
    body = gzip.compress(zlib.compress(SEED))
    events, _ = run(
        http_reply(body, headers=[(b"Content-Encoding", b"deflate, gzip")]), http_parser=http_parser
    )
    assert text_of(events) == "AI language model."


def test_identity_coding(http_parser: HttpParserName) -> None:
    events, _ = run(
        http_reply(SEED, headers=[(b"Content-Encoding", b"identity")]), http_parser=http_parser
    )
    assert text_of(events) == "AI language model."


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (gzip.compress(SEED)[:-9], "the body ended inside the gzip data, after"),
        (gzip.compress(SEED) + b"junk", "bytes after the end of the gzip data"),
        (b"\x1f\x8b\x08\x00garbage-garbage", "invalid gzip data"),
    ],
)
def test_bad_gzip(http_parser: HttpParserName, body: bytes, match: str) -> None:
    events, conn = run(
        http_reply(body, headers=[(b"Content-Encoding", b"gzip")]), http_parser=http_parser
    )
    assert isinstance(events[-1], Raised)
    assert match in events[-1].message
    assert not conn.reusable


def test_truncated_deflate_of_one_byte(http_parser: HttpParserName) -> None:
    events, _ = run(
        http_reply(zlib.compress(SEED)[:1], headers=[(b"Content-Encoding", b"deflate")]),
        http_parser=http_parser,
    )
    assert events[-1] == Raised("the body ended inside the deflate data, after 1 compressed bytes")


def test_unsupported_coding(http_parser: HttpParserName) -> None:
    events, _ = run(
        http_reply(SEED, headers=[(b"Content-Encoding", b"br")]), http_parser=http_parser
    )
    assert kinds(events) == ["ResponseStarted", "Raised"]
    assert "unsupported Content-Encoding 'br'" in events[-1].message


@cache
def gzip_bomb(megabytes: int, byte: bytes = b"\0") -> bytes:
    """``megabytes`` MiB of one byte repeated, gzipped (about a thousandth the size)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = byte * (1 << 20)
    return b"".join(compressor.compress(block) for _ in range(megabytes)) + compressor.flush()


def test_gzip_bomb_is_stopped_while_inflating(http_parser: HttpParserName) -> None:
    # An error reply: its body is read and dropped past its first 64 KiB, so nothing
    # but the cap stops the inflating.
    bomb = gzip_bomb(128)
    assert len(bomb) < 200_000
    reply = http_reply(bomb, status=500, headers=[(b"Content-Encoding", b"gzip")])
    tracemalloc.start()
    try:
        conn = new_connection(max_decompressed_size=1 << 20, http_parser=http_parser)
        events = drive(conn, [reply], eof=False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert kinds(events) == ["ResponseStarted", "ErrorReceived", "Raised"]
    assert "inflates past 1048576 bytes" in events[-1].message
    # The cap held while inflating: nowhere near 128 MiB was ever allocated.
    assert peak < 8 << 20
    assert not conn.reusable


def test_gzip_bomb_with_the_default_cap(http_parser: HttpParserName) -> None:
    reply = http_reply(gzip_bomb(65), status=500, headers=[(b"Content-Encoding", b"gzip")])
    events, _ = run(reply, bytewise=False, http_parser=http_parser)
    assert kinds(events) == ["ResponseStarted", "ErrorReceived", "Raised"]
    assert "the body inflates past 67108864 bytes (max_decompressed_size)" in events[-1].message


def test_gzip_bomb_in_a_stream(http_parser: HttpParserName) -> None:
    reply = http_reply(gzip_bomb(16, b" "), headers=[(b"Content-Encoding", b"gzip")])
    events, _ = run(reply, bytewise=False, max_decompressed_size=1 << 20, http_parser=http_parser)
    assert kinds(events) == ["ResponseStarted", "Raised"]
    assert "inflates past 1048576 bytes" in events[-1].message


def test_compressed_body_within_the_cap_passes(http_parser: HttpParserName) -> None:
    body = gzip.compress(SEED)
    headers = [(b"Content-Encoding", b"gzip")]
    events, _ = run(
        http_reply(body, headers=headers), max_decompressed_size=len(SEED), http_parser=http_parser
    )
    assert text_of(events) == "AI language model."
    events, _ = run(
        http_reply(body, headers=headers),
        max_decompressed_size=len(SEED) - 1,
        http_parser=http_parser,
    )
    assert "inflates past" in events[-1].message


def test_decompressor_holds_errors_back_until_its_output_is_used() -> None:
    # The parts of BodyDecompressor a connection reaches only on some splits.
    seed_gz = gzip.compress(SEED)
    capped = BodyDecompressor(["gzip"], max_size=len(SEED))
    assert capped.decompress(seed_gz + seed_gz) == SEED  # the output up to the cap...
    with pytest.raises(RemoteProtocolError, match="inflates past"):
        capped.finish()  # ... then the error
    exact = BodyDecompressor(["gzip"], max_size=len(SEED))
    assert exact.decompress(seed_gz) == SEED
    with pytest.raises(RemoteProtocolError, match="inflates past"):
        exact.decompress(seed_gz)  # no room at all: raised at once
    junk = BodyDecompressor(["gzip"], max_size=1 << 20)
    assert junk.decompress(seed_gz + b"junk") == SEED
    with pytest.raises(RemoteProtocolError, match="bytes after the end of the gzip data") as info:
        junk.finish()
    assert info.value.offset == len(seed_gz)
    assert decompressor_for([b"identity"], 10) is None


# --- error replies ------------------------------------------------------------------

RECORDS = [{"provider": "FoxGPT", "response": {"status": 502, "data": "<html>bad</html>"}}]


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (
            503,
            {"status": 503, "error": "Model is not available at the moment."},
            "Model is not available at the moment.",
        ),
        (
            500,
            {
                "status": 500,
                "error": {"message": "All of our providers failed.", "records": RECORDS},
            },
            "All of our providers failed.",
        ),
        (
            500,
            {"status": 500, "message": "Some providers failed.", "records": RECORDS},
            "Some providers failed.",
        ),
        (
            401,
            {"error": {"message": "Incorrect API key provided.", "type": "invalid_request_error"}},
            "Incorrect API key provided.",
        ),
    ],
)
def test_json_error_shapes(
    http_parser: HttpParserName, status: int, body: dict[str, Any], message: str
) -> None:
    raw = msgspec.json.encode(body)
    events, conn = run(
        http_reply(raw, status=status, reason=b"Nope", headers=[JSON]), http_parser=http_parser
    )
    assert kinds(events) == ["ResponseStarted", "ErrorReceived", "StreamEnded"]
    error = events[1]
    assert error.status == status
    assert error.message == message
    assert error.body is not None
    assert error.excerpt == raw.decode()
    assert not error.in_stream
    assert error.retry_after is None
    if "records" in str(body):
        assert error.body.provider_records[0].provider == "FoxGPT"
    assert not conn.reusable


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (NGINX_502, "502 Bad Gateway"),
        (b"<html><body><h1>Bad</h1>\n<p>gateway   down</p></body></html>", "Bad gateway down"),
        (b"upstream connect error or disconnect/reset before headers", None),
        (b"", "HTTP 502 Bad Gateway"),
        (b'{"detail": "Not Found"}', '{"detail": "Not Found"}'),
        (b'["a list"]', '["a list"]'),
        (b"{not json", "{not json"),
        (b"x" * 2000, "x" * 297 + "..."),
    ],
)
def test_text_error_bodies(http_parser: HttpParserName, body: bytes, message: str | None) -> None:
    reply = http_reply(
        body, status=502, reason=b"Bad Gateway", headers=[(b"Content-Type", b"text/html")]
    )
    events, _ = run(reply, bytewise=len(body) < 1000, http_parser=http_parser)
    error = events[1]
    assert isinstance(error, ErrorReceived)
    assert error.message == (message or body.decode())
    assert error.excerpt == body.decode()[:1000]


def test_error_body_of_an_unexpected_json_shape_keeps_the_decoded_body(
    http_parser: HttpParserName,
) -> None:
    events, _ = run(http_reply(b'{"status": 418}', status=418), http_parser=http_parser)
    assert events[1].body is not None
    assert events[1].body.status == 418
    assert events[1].message == '{"status": 418}'


@pytest.mark.parametrize(
    ("headers", "retry_after"),
    [
        ([(b"Retry-After", b"7")], 7.0),
        ([(b"Retry-After", b" 2.5 ")], 2.5),
        (
            [
                (b"Date", b"Wed, 21 Oct 2015 07:28:00 GMT"),
                (b"Retry-After", b"Wed, 21 Oct 2015 07:30:00 GMT"),
            ],
            120.0,
        ),
        (
            [
                (b"Date", b"Wed, 21 Oct 2015 07:28:00 GMT"),
                (b"Retry-After", b"Wednesday, 21-Oct-15 07:28:30 GMT"),
            ],
            30.0,
        ),
        (
            [
                (b"Date", b"Wed, 21 Oct 2015 07:28:00 GMT"),
                (b"Retry-After", b"Wed Oct 21 07:27:00 2015"),
            ],
            0.0,
        ),
        ([(b"Retry-After", b"Wed, 21 Oct 2015 07:28:00 GMT")], 0.0),  # in the past
        ([(b"Retry-After", b"soon")], None),
        ([(b"Retry-After", b"-3")], None),
        ([(b"Retry-After", b"Wed, 32 Oct 2015 07:28:00 GMT")], None),
        ([(b"Retry-After", b"Wed, 21 Okt 2015 07:28:00 GMT")], None),
    ],
)
def test_retry_after(
    http_parser: HttpParserName, headers: list[tuple[bytes, bytes]], retry_after: float | None
) -> None:
    body = b'{"status": 429, "error": "Too many requests"}'
    events, _ = run(http_reply(body, status=429, headers=headers), http_parser=http_parser)
    assert events[1].message == "Too many requests"
    assert events[1].retry_after == retry_after


def test_retry_after_date_against_the_clock(http_parser: HttpParserName) -> None:
    headers = [(b"Retry-After", b"Fri, 31 Dec 2100 23:59:59 GMT")]
    conn = new_connection(http_parser=http_parser)
    events = drive(conn, [http_reply(b"", status=503, reason=b"Busy", headers=headers)], eof=False)
    assert events[1].retry_after > 365 * 24 * 3600
    assert events[1].message == "HTTP 503 Busy"


def test_compressed_error_body(http_parser: HttpParserName) -> None:
    body = gzip.compress(b'{"status": 500, "error": "boom"}')
    events, _ = run(
        http_reply(body, status=500, headers=[(b"Content-Encoding", b"gzip")]),
        http_parser=http_parser,
    )
    assert events[1].message == "boom"


def test_long_error_body_keeps_only_its_start(http_parser: HttpParserName) -> None:
    body = b'{"error": "' + b"x" * 100_000 + b'"}'
    events, _ = run(
        http_reply(body, status=500, framing="chunked"), bytewise=False, http_parser=http_parser
    )
    assert kinds(events) == ["ResponseStarted", "ErrorReceived", "StreamEnded"]
    assert events[1].body is None  # only the first 64 KiB were kept: not valid JSON
    assert events[1].message.startswith('{"error": "xxx')
    assert len(events[1].excerpt) == 1000
    small = run(
        http_reply(body, status=500),
        bytewise=False,
        max_error_body_size=10,
        http_parser=http_parser,
    )[0]
    assert small[1].excerpt == '{"error": '


def test_error_reply_cut_short_still_reports_the_error(http_parser: HttpParserName) -> None:
    body = b'{"status": 503, "error": "Model is not available at the moment."}'
    reply = http_reply(body, status=503)[:-5]
    events, conn = run(reply, eof=True, http_parser=http_parser)
    assert kinds(events) == ["ResponseStarted", "ErrorReceived", "Raised"]
    assert events[1].status == 503
    assert events[1].body is None
    assert "Model is not available" in events[1].message
    assert "after 60 of the 65 body bytes announced by Content-Length" in events[2].message
    assert not conn.reusable


def test_error_object_inside_a_stream_after_chunks(http_parser: HttpParserName) -> None:
    error = b'{"status": 500, "error": {"message": "All of our providers returned with errors."}}'
    reply = http_reply(SEED + error, framing="chunked")
    events, conn = run(reply, http_parser=http_parser)
    assert kinds(events) == ["ResponseStarted"] + ["ChunkReceived"] * 4 + [
        "ErrorReceived",
        "StreamEnded",
    ]
    assert text_of(events) == "AI language model."
    error_event = events[5]
    assert error_event.status == 500
    assert error_event.in_stream
    assert error_event.message == "All of our providers returned with errors."
    assert "All of our providers" in error_event.excerpt
    assert not conn.reusable


def test_openai_error_object_inside_an_sse_stream(http_parser: HttpParserName) -> None:
    body = sse(openai_chunk({"content": "Hel"}), {"error": {"message": "overloaded"}})
    events, _ = run(
        http_reply(body, headers=[EVENT_STREAM, (b"Retry-After", b"1")]), http_parser=http_parser
    )
    assert kinds(events) == ["ResponseStarted", "ChunkReceived", "ErrorReceived", "StreamEnded"]
    assert events[2].status == 200
    assert events[2].message == "overloaded"
    assert events[2].retry_after == 1.0


# --- the connection closing early ---------------------------------------------------


def test_eof_before_any_byte(http_parser: HttpParserName) -> None:
    events, conn = run(b"", eof=True, http_parser=http_parser)
    assert events == [
        Raised("the server closed the connection without sending a response (at byte 0)")
    ]
    assert not conn.reusable


def test_eof_inside_the_headers(http_parser: HttpParserName) -> None:
    reply = b"HTTP/1.1 200 OK\r\nContent-Ty"
    events, _ = run(reply, eof=True, http_parser=http_parser)
    assert events == [
        Raised(
            "the server closed the connection before the response headers were complete, "
            f"after {len(reply)} bytes (at byte {len(reply)})"
        )
    ]


def test_eof_inside_a_content_length_body(http_parser: HttpParserName) -> None:
    reply = http_reply(SEED)[:-100]
    events, _ = run(reply, eof=True, http_parser=http_parser)
    assert kinds(events) == ["ResponseStarted"] + ["ChunkReceived"] * 3 + ["Raised"]
    assert events[-1].message.startswith(
        f"the server closed the connection after {len(SEED) - 100} of the {len(SEED)} "
        "body bytes announced by Content-Length"
    )


def test_eof_inside_an_http_chunk(http_parser: HttpParserName) -> None:
    reply = http_reply(SEED, framing="chunked", chunk_size=1000)
    cut = reply.index(b"\r\n", reply.index(b"\r\n\r\n") + 4 + 1000) - 500
    events, _ = run(reply[:cut], eof=True, http_parser=http_parser)
    assert kinds(events)[0] == "ResponseStarted"
    assert isinstance(events[-1], Raised)
    assert "in the middle of the chunked body, after 500 bytes of body data" in events[-1].message


def test_eof_inside_an_object(http_parser: HttpParserName) -> None:
    reply = http_reply(SEED[:-40], framing="close")
    events, conn = run(reply, eof=True, http_parser=http_parser)
    assert kinds(events) == ["ResponseStarted"] + ["ChunkReceived"] * 3 + ["Raised"]
    last = len(SEED) - 40 - SEED.rindex(b"}{") - 1
    assert events[-1].message.startswith(
        f"the server closed the connection: stream ended inside a value, after {last} bytes"
    )
    assert not conn.reusable


def test_body_ending_inside_an_object(http_parser: HttpParserName) -> None:
    events, _ = run(http_reply(SEED[:-40]), http_parser=http_parser)
    assert events[-1].message.startswith("the body ended: stream ended inside a value, after")


def test_eof_inside_an_sse_stream_keeps_the_last_event(http_parser: HttpParserName) -> None:
    body = sse(openai_chunk({"content": "a"}), openai_chunk({"content": "b"}))[:-2]
    events, _ = run(
        http_reply(body, headers=[EVENT_STREAM], framing="close"), eof=True, http_parser=http_parser
    )
    assert text_of(events) == "ab"


def refused(reply: bytes, *, http_parser: HttpParserName) -> str:
    """The error every way of feeding ``reply`` raises before any event; its first.

    Only what was wrong is the same every way: h11 says "illegal request line" for a
    first byte it can see is wrong, and something else when it sees the whole line.
    """
    messages: list[str] = []
    for pieces in feeding_ways(reply):
        events = drive(new_connection(http_parser=http_parser), pieces, eof=False)
        assert kinds(events) == ["Raised"], (pieces[:3], events)
        messages.append(events[0].message)
    assert all(m.startswith("invalid HTTP response: ") for m in messages), messages
    return messages[0]


OK_TAIL = b"Content-Length: 2\r\n\r\n{}"


@pytest.mark.parametrize(
    "reply",
    [
        b"garbage\r\n\r\n",
        # RFC 9112, section 4: the status line comes first, "HTTP/" first of all.
        b"\r\nHTTP/1.1 200 OK\r\n" + OK_TAIL,
        b"\nHTTP/1.1 200 OK\r\n" + OK_TAIL,
        b"RTSP/1.0 200 OK\r\n" + OK_TAIL,
        b"ICE/1.0 200 OK\r\n" + OK_TAIL,
        b"HTTP/1.1 100 Continue\r\n\r\n\r\nHTTP/1.1 200 OK\r\n" + OK_TAIL,
        b"HTTP/1.1 099 Low\r\n" + OK_TAIL,
        b"HTTP/1.1 2000 OK\r\n" + OK_TAIL,
        b"HTTP/1.1 20 OK\r\n" + OK_TAIL,
        b"HTTP/1.1 200 O\x00K\r\n" + OK_TAIL,
        b"HTTP/1.1 200 O\x0bK\r\n" + OK_TAIL,
        b"HTTP/1.1 200 O\x0cK\r\n" + OK_TAIL,
        # No upgrade was asked for (RFC 9110, section 15.2.2).
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
        # Only chunked, once (h11's rule).
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nBad Name: x\r\n" + OK_TAIL,
        b"HTTP/1.1 200 OK\r\n: no name\r\n" + OK_TAIL,
        b"HTTP/1.1 200 OK\r\nX-A: a\rb\r\n" + OK_TAIL,
        b"HTTP/1.1 200 OK\r\nX-A: a\x00b\r\n" + OK_TAIL,
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\nContent-Length: -2\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\nContent-Length: 0x2\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n X: folded\r\n\r\n{}",
        b"HTTP/x.1 200 OK\r\n" + OK_TAIL,
        b"HTTP/1.1  200 OK\r\n" + OK_TAIL,
    ],
)
def test_malformed_heads_are_refused(http_parser: HttpParserName, reply: bytes) -> None:
    refused(reply, http_parser=http_parser)


@pytest.mark.parametrize(
    "body",
    [
        b"2\r\n{}\r\n0\r\nBad Trailer\r\n\r\n",
        b"2\r\n{}x\r\n0\r\n\r\n",  # the chunk is longer than its size
        b"g\r\n{}\r\n0\r\n\r\n",
        b"2\r\n{}\r\n-1\r\n\r\n",
    ],
)
def test_malformed_chunked_bodies_are_refused(http_parser: HttpParserName, body: bytes) -> None:
    # h11 quotes what it found, which depends on where the read was cut.
    reply = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body
    for pieces in feeding_ways(reply):
        conn = new_connection(http_parser=http_parser)
        events = drive(conn, pieces, eof=False)
        assert kinds(events)[0] == "ResponseStarted"
        assert events[-1].message.startswith("invalid HTTP response: ")
        assert not conn.reusable


def test_trailer_fields_are_read_and_dropped(http_parser: HttpParserName) -> None:
    body = http_reply(SEED, framing="chunked").partition(b"\r\n\r\n")[2]
    trailers = body.replace(b"0\r\n\r\n", b"0\r\nX-Checksum: abc\r\nX-B:  c \r\n\r\n")
    reply = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + trailers
    events, conn = run(reply, http_parser=http_parser)
    assert text_of(events) == "AI language model."
    assert conn.reusable


def test_errors_repeat_after_a_failure(http_parser: HttpParserName) -> None:
    conn = new_connection(http_parser=http_parser)
    conn.receive_data(b"garbage\r\n\r\n")
    with pytest.raises(RemoteProtocolError, match="invalid HTTP response") as first:
        conn.next_event()
    with pytest.raises(RemoteProtocolError) as second:
        conn.next_event()
    assert first.value is second.value
    with pytest.raises(LocalProtocolError, match="cannot be reused"):
        conn.send_request(STREAM)


TOO_LARGE = Raised("the response's status line and headers exceed max_header_size (1000 bytes)")


def test_headers_too_large(http_parser: HttpParserName) -> None:
    reply = b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 5000
    events, _ = run(reply, max_header_size=1000, bytewise=False, http_parser=http_parser)
    assert events == [TOO_LARGE]
    # After a 1xx, the final head has the limit to itself.
    reply = b"HTTP/1.1 100 Continue\r\nX-A: " + b"a" * 900 + b"\r\n\r\n" + http_reply(SEED)
    assert (
        text_of(run(reply, max_header_size=1000, bytewise=False, http_parser=http_parser)[0])
        == "AI language model."
    )


def test_a_whole_head_over_the_limit(http_parser: HttpParserName) -> None:
    # A complete head longer than max_header_size in one read: h11 bounds only a head
    # still incomplete (its maximum incomplete event), so it takes this one; the
    # httptools parser counts the head itself and refuses it however it arrives.
    reply = http_reply(SEED, headers=[(b"X-Big", b"a" * 2000)])
    events = drive(
        new_connection(max_header_size=1000, http_parser=http_parser), [reply], eof=False
    )
    if http_parser == "h11":
        assert text_of(events) == "AI language model."
    else:
        assert events == [TOO_LARGE]
    # Cut into small pieces, the head is incomplete long enough for both.
    for pieces in feeding_ways(reply, bytewise=False)[1:]:
        assert drive(
            new_connection(max_header_size=1000, http_parser=http_parser), pieces, eof=False
        ) == [TOO_LARGE]


def test_trailers_too_large(http_parser: HttpParserName) -> None:
    # Bounded like the head, while they are incomplete (as h11 bounds them).
    body = http_reply(SEED, framing="chunked").partition(b"\r\n\r\n")[2]
    big = body.replace(b"0\r\n\r\n", b"0\r\nX-Big: " + b"a" * 5000 + b"\r\n\r\n")
    reply = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + big
    for pieces in feeding_ways(reply, bytewise=False)[1:]:
        events = drive(
            new_connection(max_header_size=1000, http_parser=http_parser), pieces, eof=False
        )
        assert events[-1] == TOO_LARGE
        assert text_of(events[:-1]) == "AI language model."


def test_parse_errors_say_where_when_the_parser_knows(http_parser: HttpParserName) -> None:
    reply = b"HTTP/1.1 200 OK\r\nBad Name: x\r\n" + OK_TAIL
    message = refused(reply, http_parser=http_parser)
    if http_parser == "httptools":  # llhttp's position, found again byte by byte
        assert message.endswith(f"(at byte {reply.index(b' Name')})")
    else:  # h11 quotes the line instead
        assert "(at byte" not in message
    message = refused(b"HTTQ/1.1 200 OK\r\n\r\n", http_parser=http_parser)
    assert message.endswith("(at byte 3)") == (http_parser == "httptools")


def test_decoder_limits_apply(http_parser: HttpParserName) -> None:
    # Not run(): the decoder words the error differently depending on where the
    # bytes were cut (its own business).
    for pieces in feeding_ways(http_reply(SEED)):
        events = drive(
            new_connection(max_object_size=200, http_parser=http_parser), pieces, eof=False
        )
        assert kinds(events) == ["ResponseStarted", "Raised"]
        assert "max_object_size" in events[-1].message


def test_first_chunk_arrives_before_the_body_ends(http_parser: HttpParserName) -> None:
    conn = new_connection(http_parser=http_parser)
    first = SEED.index(b"}{") + 1
    reply = http_reply(SEED, framing="chunked", chunk_size=first)
    events = drive(conn, [reply[: 200 + first]], eof=False)
    assert kinds(events) == ["ResponseStarted", "ChunkReceived"]
    assert events[1].chunk.text == "AI la"


# --- keep-alive ---------------------------------------------------------------------


def serve(
    server: h11.Connection,
    request_bytes: bytes,
    body: bytes,
    headers: list[tuple[str, str]],
    *,
    status: int = 200,
    pieces: int = 5,
) -> bytes:
    """h11 as the server: read the request, write the reply (chunked, unless told)."""
    server.receive_data(request_bytes)
    request = server.next_event()
    assert isinstance(request, h11.Request)
    while not isinstance(server.next_event(), h11.EndOfMessage):
        pass
    out = server.send(h11.Response(status_code=status, headers=headers))
    step = max(1, len(body) // pieces)
    for i in range(0, len(body), step):
        out += server.send(h11.Data(data=body[i : i + step]))
    return out + server.send(h11.EndOfMessage())


def test_h11_server_chunked_sse_and_seed(http_parser: HttpParserName) -> None:
    for body, content_type, text in [
        (OPENAI_SSE, "text/event-stream", "Hello, world"),
        (SEED, "application/json", "AI language model."),
    ]:
        client = connect(http_parser=http_parser)
        reply = serve(
            h11.Connection(h11.SERVER),
            client.send_request(STREAM),
            body,
            [("Content-Type", content_type)],
        )
        assert b"transfer-encoding: chunked" in reply.lower()
        for pieces in feeding_ways(reply):
            client = connect(http_parser=http_parser)
            client.send_request(STREAM)
            assert text_of(drive(client, pieces, eof=False)) == text


WAYS = [name for name, _ in split_ways(b"xy")]


@pytest.mark.parametrize("way", WAYS)
def test_keep_alive_requests_on_one_connection(http_parser: HttpParserName, way: str) -> None:
    client = connect(http_parser=http_parser)
    server = h11.Connection(h11.SERVER)
    texts = []
    for request, body, headers in [
        (STREAM, SEED, [("Content-Type", "application/json")]),
        (
            STREAM,
            gzip.compress(OPENAI_SSE),
            [("Content-Type", "text/event-stream"), ("Content-Encoding", "gzip")],
        ),
        (NOT_STREAMED, msgspec.json.encode(COMPLETION), [("Content-Type", "application/json")]),
    ]:
        assert client.reusable
        reply = serve(server, client.send_request(request), body, headers)
        events = drive(client, dict(split_ways(reply))[way], eof=False)
        assert isinstance(events[-1], StreamEnded)
        texts.append(StreamAccumulator(events).completion().text)
        server.start_next_cycle()
    assert texts == ["AI language model.", "Hello, world", "Hi there."]
    assert client.reusable


def test_start_next_cycle_explicitly(http_parser: HttpParserName) -> None:
    client = connect(http_parser=http_parser)
    client.start_next_cycle()  # nothing to do on a fresh connection
    client.send_request(STREAM)
    drive(client, [http_reply(SEED)], eof=False)
    client.start_next_cycle()
    assert client.reusable
    client.send_request(STREAM)
    events = drive(client, [http_reply(SEED)], eof=False)
    assert text_of(events) == "AI language model."


@pytest.mark.parametrize("way", WAYS)
def test_not_reusable_after_connection_close(http_parser: HttpParserName, way: str) -> None:
    client = connect(http_parser=http_parser)
    server = h11.Connection(h11.SERVER)
    reply = serve(server, client.send_request(STREAM), SEED, [("Connection", "close")])
    events = drive(client, dict(split_ways(reply))[way], eof=False)
    assert text_of(events) == "AI language model."
    assert not client.reusable
    with pytest.raises(LocalProtocolError, match=r"cannot be reused: .*Connection: close"):
        client.send_request(STREAM)
    with pytest.raises(LocalProtocolError, match="cannot be reused"):
        client.start_next_cycle()


def test_not_reusable_when_the_request_asked_to_close(http_parser: HttpParserName) -> None:
    client = connect(http_parser=http_parser)
    client.send_request(STREAM, headers={"Connection": "close"})
    drive(client, [http_reply(SEED)], eof=False)
    assert not client.reusable


def test_not_reusable_after_an_error_reply(http_parser: HttpParserName) -> None:
    client = connect(http_parser=http_parser)
    client.send_request(STREAM)
    drive(client, [http_reply(b'{"error": "no"}', status=400)], eof=False)
    with pytest.raises(LocalProtocolError, match="reported an error"):
        client.send_request(STREAM)


def test_not_reusable_when_the_body_was_not_read_to_the_end(http_parser: HttpParserName) -> None:
    client = connect(http_parser=http_parser)
    client.send_request(STREAM)
    client.receive_data(http_reply(SEED)[:1000])
    assert isinstance(client.next_event(), ResponseStarted)
    assert not client.reusable
    with pytest.raises(LocalProtocolError, match="while the connection is receiving the body"):
        client.send_request(STREAM)
    with pytest.raises(LocalProtocolError, match="reply is in progress"):
        client.start_next_cycle()


def read_all(conn: ClientConnection, pieces: Iterable[bytes]) -> list[Any]:
    """Every piece fed, events drained up to StreamEnded (the rest only received)."""
    out: list[Any] = []
    for piece in pieces:
        conn.receive_data(piece)
        while not (out and isinstance(out[-1], (StreamEnded, Raised))):
            try:
                event = conn.next_event()
            except RemoteProtocolError as exc:
                out.append(Raised(str(exc)))
                break
            if event is NEED_DATA:
                break
            out.append(event)
    return out


@pytest.mark.parametrize("framing", ["chunked", "length"])
@pytest.mark.parametrize(
    "after",
    [
        b"",
        # CR and LF alone: llhttp skips them between responses, h11 keeps them.
        b"\r\n",
        b"\n",
        b"\r\n\r\n\r\n",
        b"x",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}",  # a second response
        b"HTTP/1.1 204 No Content\r\n\r\n",
        b"HTTP/",
    ],
)
def test_bytes_after_the_response(http_parser: HttpParserName, framing: str, after: bytes) -> None:
    reply = http_reply(SEED, framing=framing)
    for pieces in feeding_ways(reply + after):
        conn = new_connection(http_parser=http_parser)
        events = read_all(conn, pieces)
        assert isinstance(events[-1], StreamEnded)
        assert text_of(events) == "AI language model."
        assert conn.reusable is not bool(after), pieces[-3:]
        if after:
            with pytest.raises(LocalProtocolError, match="no request asked for"):
                conn.send_request(STREAM)


@pytest.mark.parametrize("after", [b"", b"\r\n", b"x"])
def test_bytes_after_a_response_with_no_body(http_parser: HttpParserName, after: bytes) -> None:
    for pieces in feeding_ways(b"HTTP/1.1 204 No Content\r\n\r\n" + after):
        conn = new_connection(http_parser=http_parser)
        assert kinds(read_all(conn, pieces)) == ["ResponseStarted", "StreamEnded"]
        assert conn.reusable is not bool(after)


def test_bytes_after_a_response_that_closes(http_parser: HttpParserName) -> None:
    # llhttp refuses bytes after "Connection: close": they are not the reply's.
    reply = http_reply(SEED, headers=[(b"Connection", b"close")], framing="chunked") + b"junk"
    events, conn = run(reply, http_parser=http_parser)
    assert text_of(events) == "AI language model."
    assert isinstance(events[-1], StreamEnded)
    assert not conn.reusable


@pytest.mark.parametrize(
    ("version", "connection", "reusable"),
    [
        (b"1.1", None, True),
        (b"1.1", b"keep-alive", True),
        (b"1.1", b"close", False),
        (b"1.1", b"Keep-Alive, CLOSE", False),
        (b"1.1", b"closed", True),  # not the close option
        (b"1.0", None, False),
        (b"1.0", b"keep-alive", False),  # h11 closes every HTTP/1.0 connection
        (b"2.0", None, True),
    ],
)
def test_reusable_after_version_and_connection_fields(
    http_parser: HttpParserName, version: bytes, connection: bytes | None, reusable: bool
) -> None:
    headers = [] if connection is None else [(b"Connection", connection)]
    events, conn = run(http_reply(SEED, version=version, headers=headers), http_parser=http_parser)
    assert isinstance(events[-1], StreamEnded)
    assert conn.reusable is reusable


def test_not_reusable_after_the_server_closed_or_sent_stray_bytes(
    http_parser: HttpParserName,
) -> None:
    client = connect(http_parser=http_parser)
    client.send_request(STREAM)
    drive(client, [http_reply(SEED)], eof=False)
    client.receive_data(b"HTTP/1.1 200 OK\r\n")
    assert not client.reusable
    with pytest.raises(LocalProtocolError, match="no request asked for"):
        client.send_request(STREAM)
    client = connect(http_parser=http_parser)
    client.send_request(STREAM)
    drive(client, [http_reply(SEED)], eof=False)
    client.receive_data(b"")
    with pytest.raises(LocalProtocolError, match="the server closed it"):
        client.send_request(STREAM)
    idle = connect(http_parser=http_parser)
    idle.receive_data(b"")
    assert not idle.reusable


# --- misuse -------------------------------------------------------------------------


def test_next_event_with_no_request(http_parser: HttpParserName) -> None:
    with pytest.raises(LocalProtocolError, match="no reply in progress"):
        connect(http_parser=http_parser).next_event()


def test_next_event_after_the_end(http_parser: HttpParserName) -> None:
    conn = new_connection(http_parser=http_parser)
    drive(conn, [http_reply(SEED)], eof=False)
    with pytest.raises(LocalProtocolError, match="the reply has ended"):
        conn.next_event()


def test_data_after_eof(http_parser: HttpParserName) -> None:
    conn = new_connection(http_parser=http_parser)
    conn.receive_data(b"")
    conn.receive_data(b"")  # twice is fine
    with pytest.raises(LocalProtocolError, match="after EOF"):
        conn.receive_data(b"x")


def test_second_request_while_waiting(http_parser: HttpParserName) -> None:
    conn = new_connection(http_parser=http_parser)
    with pytest.raises(LocalProtocolError, match="awaiting the response"):
        conn.send_request(STREAM)
    assert not conn.reusable


def test_need_data_repr() -> None:
    assert repr(NEED_DATA) == "NEED_DATA"


def test_memoryview_and_bytearray_input(http_parser: HttpParserName) -> None:
    reply = http_reply(SEED)
    conn = new_connection(http_parser=http_parser)
    events = drive(conn, [memoryview(reply)[:500], bytearray(reply[500:])], eof=False)  # type: ignore[list-item]
    assert text_of(events) == "AI language model."


# --- every split gives the same events (hypothesis) ---------------------------------

SPLIT_CASES = [
    (http_reply(SEED, framing="chunked", chunk_size=13), False, STREAM),
    (http_reply(gzip.compress(SEED), headers=[(b"Content-Encoding", b"gzip")]), False, STREAM),
    (
        http_reply(
            raw_deflate(OPENAI_SSE), headers=[EVENT_STREAM, (b"Content-Encoding", b"deflate")]
        ),
        False,
        STREAM,
    ),
    (http_reply(SEED[:-7], framing="close"), True, STREAM),
    (http_reply(msgspec.json.encode(COMPLETION), headers=[JSON]), False, NOT_STREAMED),
    (http_reply(NGINX_502, status=502, framing="chunked", chunk_size=5), False, STREAM),
]


@given(case=st.sampled_from(SPLIT_CASES), data=st.data())
def test_random_splits_give_the_same_events(
    http_parser: HttpParserName, case: tuple[bytes, bool, ChatRequest], data: st.DataObject
) -> None:
    reply, eof, request = case
    cuts = sorted(data.draw(st.sets(st.integers(1, len(reply) - 1), max_size=20)))
    pieces = cut_at(reply, cuts)
    whole = drive(new_connection(request, http_parser=http_parser), [reply], eof=eof)
    assert drive(new_connection(request, http_parser=http_parser), pieces, eof=eof) == whole


# --- fuzzing: only events or RemoteProtocolError ------------------------------------


def drain_fuzzed(conn: ClientConnection, pieces: Iterable[bytes], eof: bool) -> None:
    for piece in [*pieces, *([b""] if eof else [])]:
        conn.receive_data(piece)
        for _ in range(100_000):
            try:
                event = conn.next_event()
            except RemoteProtocolError:
                return
            if event is NEED_DATA:
                break
            assert isinstance(
                event,
                (ResponseStarted, ChunkReceived, CompletionReceived, ErrorReceived, StreamEnded),
            )
            if isinstance(event, StreamEnded):
                return
        else:  # pragma: no cover
            pytest.fail("next_event() kept returning events")


@given(
    data=st.binary(max_size=600),
    eof=st.booleans(),
    stream=st.booleans(),
    cut=st.integers(1, 50),
)
def test_fuzz_random_bytes(
    http_parser: HttpParserName, data: bytes, eof: bool, stream: bool, cut: int
) -> None:
    conn = new_connection(STREAM if stream else NOT_STREAMED, http_parser=http_parser)
    drain_fuzzed(conn, [data[i : i + cut] for i in range(0, len(data), cut)], eof)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.sampled_from(FUZZ_SEEDS),
    edits=st.lists(st.tuples(st.floats(0, 1), st.binary(min_size=0, max_size=4)), max_size=6),
    keep=st.floats(0, 1),
    eof=st.booleans(),
    stream=st.booleans(),
    cut=st.integers(1, 400),
)
def test_fuzz_garbled_replies(
    http_parser: HttpParserName,
    seed: bytes,
    edits: list[tuple[float, bytes]],
    keep: float,
    eof: bool,
    stream: bool,
    cut: int,
) -> None:
    data = bytearray(seed)
    for where, replacement in edits:
        i = int(where * (len(data) - 1))
        data[i : i + len(replacement) or i + 1] = replacement
    data = data[: max(1, int(len(data) * (0.5 + keep / 2)))]
    conn = new_connection(STREAM if stream else NOT_STREAMED, http_parser=http_parser)
    drain_fuzzed(conn, [bytes(data[i : i + cut]) for i in range(0, len(data), cut)], eof)


HEADS = [
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\nContent-Length: 40\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n",
    b"HTTP/1.0 500 Oops\r\nRetry-After: 1\r\n\r\n",
]
BODY_ATOMS = [
    b"{",
    b"}",
    b"[",
    b"]",
    b'"',
    b"\\",
    b"data: ",
    b"\n",
    b"\r\n",
    b":",
    b",",
    b"1",
    b'"error"',
    b'"status"',
    b"500",
    b"null",
    b"[DONE]",
    b"\x1f\x8b\x08\x00",
    b"\x78\x9c",
    b"0\r\n\r\n",
    b"5\r\n",
    b"\xff",
    b"\xc3",
]


@given(
    head=st.sampled_from(HEADS),
    body=st.lists(st.one_of(st.sampled_from(BODY_ATOMS), st.binary(max_size=8)), max_size=40),
    eof=st.booleans(),
    stream=st.booleans(),
    cut=st.integers(1, 30),
)
def test_fuzz_bodies_under_valid_heads(
    http_parser: HttpParserName, head: bytes, body: list[bytes], eof: bool, stream: bool, cut: int
) -> None:
    data = head + b"".join(body)
    conn = new_connection(STREAM if stream else NOT_STREAMED, http_parser=http_parser)
    drain_fuzzed(conn, [data[i : i + cut] for i in range(0, len(data), cut)], eof)


# --- purity -------------------------------------------------------------------------


def test_no_io_modules_are_imported() -> None:
    code = (
        "import sys, purai_proto; "
        "print(sorted(m for m in ('socket', 'ssl', 'asyncio', 'anyio', 'trio', 'selectors') "
        "if m in sys.modules))"
    )
    root = ROOT
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root
    )
    assert result.stdout.strip() == "[]"
    for source in (root / "purai_proto").glob("*.py"):
        text = source.read_text()
        for name in ("socket", "ssl", "asyncio", "anyio", "trio"):
            assert f"import {name}" not in text, (source, name)
