"""Replies cut short, malformed or too large: each is a RemoteProtocolError that says
what was wrong and where, with each HTTP parser, fed every way."""

from __future__ import annotations

import pytest

from purai_proto import (
    HttpParserName,
    LocalProtocolError,
    RemoteProtocolError,
)
from tests.helpers.connection import (
    STREAM,
    Raised,
    drive,
    feeding_ways,
    kinds,
    new_connection,
    run,
    text_of,
)
from tests.helpers.replies import (
    EVENT_STREAM,
    SEED,
    http_reply,
    openai_chunk,
    sse,
)

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
