"""Error replies of any shape become ErrorReceived: JSON bodies of every dialect, text
and HTML, Retry-After, and error objects inside a stream."""

from __future__ import annotations

import gzip
from typing import Any

import msgspec
import pytest

from purai_proto import (
    ErrorReceived,
    HttpParserName,
)
from tests.helpers.connection import (
    drive,
    kinds,
    new_connection,
    run,
    text_of,
)
from tests.helpers.replies import (
    EVENT_STREAM,
    JSON,
    NGINX_502,
    SEED,
    http_reply,
    openai_chunk,
    sse,
)

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
