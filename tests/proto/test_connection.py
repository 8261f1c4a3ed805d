"""ClientConnection's events for crafted server replies: how a body is delimited and
decoded, what misuse raises, and the same events for every split of a reply.

Every reply is fed whole, one byte at a time, and cut at random points (seeded
``random`` and hypothesis), and the events must be the same every way. The request,
content encodings, error replies, broken replies, keep-alive and the fuzzing have
files of their own beside this one.
"""

from __future__ import annotations

import gzip

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from purai_proto import (
    NEED_DATA,
    ChatCompletion,
    ChatRequest,
    HttpParserName,
    LocalProtocolError,
    ResponseStarted,
    StreamAccumulator,
    StreamEnded,
)
from tests.helpers.connection import (
    NOT_STREAMED,
    STREAM,
    Raised,
    chunks_of,
    connect,
    cut_at,
    drive,
    kinds,
    new_connection,
    run,
    text_of,
)
from tests.helpers.replies import (
    COMPLETION,
    EVENT_STREAM,
    JSON,
    NDJSON,
    NGINX_502,
    OPENAI_SSE,
    SEED,
    http_reply,
    raw_deflate,
)

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


def test_first_chunk_arrives_before_the_body_ends(http_parser: HttpParserName) -> None:
    conn = new_connection(http_parser=http_parser)
    first = SEED.index(b"}{") + 1
    reply = http_reply(SEED, framing="chunked", chunk_size=first)
    events = drive(conn, [reply[: 200 + first]], eof=False)
    assert kinds(events) == ["ResponseStarted", "ChunkReceived"]
    assert events[1].chunk.text == "AI la"


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
