"""The two HTTP parsers behind ClientConnection: choosing one, and their agreement.

The connection tests (tests/proto/) run with each parser; here the
parsers are compared with each other on the same replies (well-formed ones built at
random, and garbled ones), and the choice between them is tested.
"""

from __future__ import annotations

import gzip
import itertools
from typing import Any

import h11
import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz.invariants import PARSERS, check_connection, compare_parsers, outcome
from purai_proto import NEED_DATA, ChatRequest, ClientConnection, LocalProtocolError
from purai_proto._http import factory
from purai_proto._http.factory import httptools_available, new_parser
from purai_proto._http.llhttp_binding import Collector
from purai_proto._http.parser import (
    END,
    MAX_INFORMATIONAL_RESPONSES,
    ParseError,
    Part,
    ResponseHead,
    ResponseParser,
)
from tests.helpers.parsers import needs_httptools
from tests.helpers.replies import (
    FUZZ_SEEDS,
    NDJSON,
    OPENAI_SSE,
    SEED,
    http_reply,
)

# --- choosing a parser --------------------------------------------------------------


def test_auto_prefers_httptools() -> None:
    conn = ClientConnection("example.com")
    assert conn.http_parser == ("httptools" if httptools_available() else "h11")
    assert ClientConnection("example.com", http_parser="h11").http_parser == "h11"


@needs_httptools
def test_httptools_when_asked() -> None:
    assert ClientConnection("example.com", http_parser="httptools").http_parser == "httptools"


def test_without_httptools(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(factory, "load_httptools", lambda: None)
    assert not httptools_available()
    assert ClientConnection("example.com").http_parser == "h11"
    with pytest.raises(
        LocalProtocolError, match=r"needs httptools: pip install 'purai\[speedups\]'"
    ):
        ClientConnection("example.com", http_parser="httptools")


def test_unknown_parser() -> None:
    with pytest.raises(LocalProtocolError, match="http_parser must be 'auto', 'h11' or"):
        ClientConnection("example.com", http_parser="llhttp")  # type: ignore[arg-type]


# --- the parts a parser hands over --------------------------------------------------


def started(name: str) -> ResponseParser:
    parser = new_parser(name, 1000)
    request = h11.Request(
        method="POST", target="/", headers=[("Host", "x"), ("Content-Length", "0")]
    )
    parser.send_request(request, b"")
    return parser


@pytest.mark.parametrize("name", PARSERS)
def test_one_body_piece_per_read(name: str) -> None:
    # Every HTTP chunk a read completes, joined: one piece, one decoder call.
    parser = started(name)
    parser.receive_data(http_reply(SEED, framing="chunked", chunk_size=10))
    parts: list[Part] = []
    while (part := parser.next_part()) is not NEED_DATA:
        parts.append(part)
        if part is END:
            break
    assert isinstance(parts[0], ResponseHead)
    assert parts[1:] == [SEED, END]
    assert parser.keep_alive
    assert not parser.unsolicited_data


@pytest.mark.parametrize("name", PARSERS)
def test_a_parse_error_comes_after_the_body_before_it(name: str) -> None:
    reply = http_reply(SEED, framing="chunked", chunk_size=10)
    assert reply.endswith(b"\r\n0\r\n\r\n")
    parser = started(name)
    parser.receive_data(reply[:-5] + b"zz\r\n")
    assert isinstance(parser.next_part(), ResponseHead)
    assert parser.next_part() == SEED
    with pytest.raises(ParseError) as info:
        parser.next_part()
    assert not info.value.too_large


# --- the parsers agree --------------------------------------------------------------


def chunked_body(body: bytes, sizes: list[int], ext: bytes, trailers: bytes) -> bytes:
    out, pos = [], 0
    for size in itertools.cycle(sizes):
        if pos >= len(body):
            break
        piece = body[pos : pos + size]
        out.append(b"%x%s\r\n%s\r\n" % (len(piece), ext, piece))
        pos += size
    return b"".join(out) + b"0%s\r\n%s\r\n" % (ext, trailers)


BODIES = {
    "seed": (SEED, b""),
    "sse": (OPENAI_SSE, b"text/event-stream"),
    "ndjson": (NDJSON, b"application/x-ndjson"),
    "completion": (
        msgspec.json.encode(
            {"id": "c", "object": "chat.completion", "created": 0, "model": "m", "choices": []}
        ),
        b"application/json",
    ),
    "error": (b'{"status": 503, "error": "Model is not available"}', b"application/json"),
}
NAMES = [b"X-Request-Id", b"x-a", b"RETRY-AFTER", b"Date", b"Server"]
VALUES = [b"abc", b"1", b"text/html; charset=utf-8", b"\xe9t\xe9", b"a  b", b""]
STRAYS = [b"", b"", b"\r\n", b"\n", b"x", b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"]


@st.composite
def replies(draw: st.DrawFn) -> tuple[bool, bytes, list[int]]:
    """A well-formed reply built at random, what follows it, and where to cut it."""
    body, media = BODIES[draw(st.sampled_from(sorted(BODIES)))]
    status = draw(st.sampled_from([200, 200, 200, 201, 204, 400, 429, 500, 503]))
    version = draw(st.sampled_from([b"1.1", b"1.1", b"1.0"]))
    framing = draw(st.sampled_from(["length", "chunked", "chunked", "close"]))
    head = b"".join(
        draw(
            st.lists(
                st.sampled_from(
                    [
                        b"HTTP/1.1 100 Continue\r\n\r\n",
                        b"HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n",
                        b"HTTP/1.1 102 Processing\r\nConnection: close\r\n\r\n",
                    ]
                ),
                max_size=2,
            )
        )
    )
    head += b"HTTP/%s %d %s\r\n" % (version, status, draw(st.sampled_from([b"OK", b"", b"A b "])))
    fields = []
    if media:
        fields.append((b"Content-Type", media))
    if draw(st.booleans()):
        body = gzip.compress(body)
        fields.append((b"Content-Encoding", b"gzip"))
    for name, value in draw(st.lists(st.tuples(st.sampled_from(NAMES), st.sampled_from(VALUES)))):
        fields.append((name, value))
    if draw(st.booleans()):
        fields.append(
            (b"Connection", draw(st.sampled_from([b"close", b"keep-alive", b"x, Close"])))
        )
    if framing == "length":
        fields.append((b"content-LENGTH", b"%d" % len(body)))
    elif framing == "chunked":
        coding = draw(st.sampled_from([b"chunked", b"Chunked", b"chunked\t", b"CHUNKED "]))
        fields.append((b"Transfer-Encoding", coding))
        sizes = draw(st.lists(st.integers(1, 600), min_size=1, max_size=4))
        ext = draw(st.sampled_from([b"", b";a=b", b';q="x y"']))
        trailers = draw(st.sampled_from([b"", b"X-Sum: 1\r\n", b"A: b\r\nC:  d \r\n"]))
        body = chunked_body(body, sizes, ext, trailers)
    for name, value in fields:
        space = draw(st.sampled_from([b" ", b"", b"  ", b"\t"]))
        trail = draw(st.sampled_from([b"", b"", b" ", b"\t "]))
        head += b"%s:%s%s%s\r\n" % (name, space, value, trail)
    reply = head + b"\r\n" + body
    if framing != "close" and status != 204:
        reply += draw(st.sampled_from(STRAYS))
    cuts = sorted(draw(st.sets(st.integers(1, max(1, len(reply) - 1)), max_size=12)))
    return draw(st.booleans()), reply, cuts


@needs_httptools
@settings(suppress_health_check=[HealthCheck.too_slow])
@given(case=replies())
def test_parsers_agree_on_well_formed_replies(case: tuple[bool, bytes, list[int]]) -> None:
    stream, reply, cuts = case
    pieces = [reply[i:j] for i, j in itertools.pairwise([0, *cuts, len(reply)])]
    h11 = outcome(stream, pieces, "h11")
    httptools = outcome(stream, pieces, "httptools")
    assert not (h11[1] or "").startswith("invalid HTTP"), h11[1]  # well-formed HTTP
    compare_parsers(h11, httptools)
    assert httptools == outcome(stream, [reply], "httptools")
    assert h11 == outcome(stream, [reply], "h11")


@needs_httptools
@settings(suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.sampled_from(FUZZ_SEEDS),
    edits=st.lists(
        st.tuples(
            st.floats(0, 1),
            st.one_of(
                st.binary(max_size=4),
                st.sampled_from(
                    [b"\r\n", b"\n", b"\r", b" ", b"0\r\n\r\n", b"HTTP/1.1 100 Continue\r\n\r\n"]
                ),
            ),
        ),
        max_size=6,
    ),
    option=st.integers(0, 255),
)
def test_parsers_agree_on_garbled_replies(
    seed: bytes, edits: list[tuple[float, bytes]], option: int
) -> None:
    data = bytearray(seed)
    for where, replacement in edits:
        i = int(where * len(data))
        data[i : i + len(replacement) or i + 1] = replacement
    check_connection(bytes([option]) + bytes(data))  # invariants 1-4


def test_llhttp_stricter_classes_are_refused_by_httptools_only() -> None:
    # One reply per class the invariants exclude: h11 reads it, httptools refuses it.
    cases: list[Any] = [
        b"HTTP/1.1 200 OK\nContent-Length: 2\n\n{}",
        b"HTTP/1.1 200 OK\r\nX-A: a\x01b\r\nContent-Length: 2\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 2\r\n\r\n{}",
        b"HTTP/1.2 200 OK\r\nContent-Length: 2\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n"
        b"2\r\n{}\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2 \r\n{}\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;a b\r\n{}\r\n0\r\n\r\n",
    ]
    for reply in cases:
        h11 = outcome(False, [reply], "h11")
        assert h11[1] is None, (reply, h11)
        if httptools_available():
            httptools = outcome(False, [reply], "httptools")
            assert httptools[1] is not None, reply
            compare_parsers(h11, httptools)


def test_h11_stricter_class() -> None:
    # A chunk size with leading zeros past 20 digits: valid (RFC 9112, section 7.1);
    # h11 refuses it, llhttp reads it.
    reply = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%s2\r\n{}\r\n0\r\n\r\n" % (
        b"0" * 21
    )
    h11 = outcome(False, [reply], "h11")
    assert h11[1] is not None
    assert "illegal chunk header" in h11[1]
    if httptools_available():
        httptools = outcome(False, [reply], "httptools")
        assert httptools[1] is None
        compare_parsers(h11, httptools)


# --- 1xx responses, and what a callback raises ---------------------------------------

CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
EMPTY_OK = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"


@pytest.mark.parametrize("name", PARSERS)
@pytest.mark.parametrize("byte_at_a_time", [False, True], ids=["whole", "bytewise"])
def test_1xx_responses_are_capped(name: str, byte_at_a_time: bool) -> None:
    # At the limit the final response is read; one more and the reply is refused,
    # the same way however the bytes arrive.
    limit = MAX_INFORMATIONAL_RESPONSES
    for count in (limit, limit + 1):
        parser = started(name)
        data = CONTINUE * count + EMPTY_OK
        pieces = [data[i : i + 1] for i in range(len(data))] if byte_at_a_time else [data]
        if count > limit:
            with pytest.raises(ParseError, match=f"more than {limit} 1xx responses"):
                _parts_of(parser, pieces)
        else:
            parts = _parts_of(parser, pieces)
            assert isinstance(parts[0], ResponseHead)
            assert parts[0].status == 200


def _parts_of(parser: ResponseParser, pieces: list[bytes]) -> list[Part]:
    parts: list[Part] = []
    for piece in pieces:
        parser.receive_data(piece)
        while (part := parser.next_part()) is not NEED_DATA:
            parts.append(part)
            if part is END:
                return parts
    return parts


@needs_httptools
@pytest.mark.parametrize(
    ("callback", "reply"),
    [
        ("on_status", EMPTY_OK),
        ("on_header", EMPTY_OK),
        ("on_headers_complete", EMPTY_OK),
        # Reached from _start_body, which feeds the chunked body's own head, and then
        # while the body is parsed.
        ("on_message_begin", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
        ("on_message_complete", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    ],
)
@pytest.mark.parametrize("raised", [KeyboardInterrupt, SystemExit])
def test_an_interrupt_inside_llhttp_goes_through_unchanged(
    monkeypatch: pytest.MonkeyPatch, callback: str, reply: bytes, raised: type[BaseException]
) -> None:
    # A signal handler runs inside whatever Python code is running: llhttp's
    # callbacks too. What it raises must reach the caller as it is, never as the
    # server's fault (RemoteProtocolError) nor as httptools' own error.
    def interrupt(self: object, *args: object) -> None:
        raise raised

    monkeypatch.setattr(Collector, callback, interrupt)
    conn = ClientConnection("example.com", http_parser="httptools")
    conn.send_request(msgspec.structs.replace(ChatRequest(), stream=True))
    conn.receive_data(reply)
    with pytest.raises(raised):
        while conn.next_event() is not NEED_DATA:
            pass
