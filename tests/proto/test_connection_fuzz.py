"""ClientConnection fuzzed: random bytes, garbled replies and random bodies under valid
heads give events or RemoteProtocolError, never any other exception."""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from purai_proto import (
    NEED_DATA,
    ChunkReceived,
    ClientConnection,
    CompletionReceived,
    ErrorReceived,
    HttpParserName,
    RemoteProtocolError,
    ResponseStarted,
    StreamEnded,
)
from tests.helpers.connection import (
    NOT_STREAMED,
    STREAM,
    new_connection,
)
from tests.helpers.replies import (
    FUZZ_SEEDS,
)

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
