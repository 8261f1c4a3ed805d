"""A ClientConnection driven with replies fed every way, for the core's tests.

Every helper that makes a connection takes the parser it reads with: the tests get
it from the ``http_parser`` fixture (tests/proto/conftest.py), so each runs with h11
and with httptools.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any, NamedTuple

from purai_proto import (
    NEED_DATA,
    ChatRequest,
    ChunkReceived,
    ClientConnection,
    HttpParserName,
    Message,
    RemoteProtocolError,
    StreamAccumulator,
    StreamEnded,
)

from .splitting import split_ways

HOST = "api.example.com"
STREAM = ChatRequest(
    model="gpt-3.5-turbo", messages=[Message(role="user", content="Hi")], stream=True
)
NOT_STREAMED = ChatRequest(model="gpt-3.5-turbo", messages=[Message(role="user", content="Hi")])


class Raised(NamedTuple):
    """Stands for a RemoteProtocolError in a list of events."""

    message: str


def drive(conn: ClientConnection, pieces: Iterable[bytes], *, eof: bool) -> list[Any]:
    """Feed ``pieces`` (then EOF if asked), draining events after each one.

    Stops at StreamEnded or at the first RemoteProtocolError, which is recorded as
    ``Raised``; any other exception escapes and fails the test.
    """
    out: list[Any] = []
    for piece in [*pieces, *([b""] if eof else [])]:
        conn.receive_data(piece)
        while True:
            try:
                event = conn.next_event()
            except RemoteProtocolError as exc:
                out.append(Raised(str(exc)))
                return out
            if event is NEED_DATA:
                break
            out.append(event)
            if isinstance(event, StreamEnded):
                return out
    return out


def cut_at(data: bytes, cuts: Iterable[int]) -> list[bytes]:
    """``data`` cut at the sorted offsets ``cuts``."""
    return [data[i:j] for i, j in itertools.pairwise([0, *cuts, len(data)])]


def feeding_ways(data: bytes, *, bytewise: bool = True) -> list[list[bytes]]:
    """The whole reply, one byte at a time (unless told), and at random points."""
    return [pieces for name, pieces in split_ways(data) if bytewise or name != "bytewise"]


def connect(*, http_parser: HttpParserName, **kwargs: Any) -> ClientConnection:
    """A connection to :data:`HOST` reading with ``http_parser`` (the fixture's)."""
    return ClientConnection(HOST, http_parser=http_parser, **kwargs)


def new_connection(
    request: ChatRequest = STREAM, *, http_parser: HttpParserName, **kwargs: Any
) -> ClientConnection:
    """A connection that has sent ``request``."""
    conn = connect(http_parser=http_parser, **kwargs)
    conn.send_request(request)
    return conn


def run(
    reply: bytes,
    *,
    http_parser: HttpParserName,
    eof: bool = False,
    request: ChatRequest = STREAM,
    bytewise: bool = True,
    **kwargs: Any,
) -> tuple[list[Any], ClientConnection]:
    """Events for ``reply`` fed every way; asserts they are the same every way."""
    results = []
    conn = None
    for pieces in feeding_ways(reply, bytewise=bytewise):
        conn = new_connection(request, http_parser=http_parser, **kwargs)
        results.append(drive(conn, pieces, eof=eof))
    for other in results[1:]:
        assert other == results[0]
    assert conn is not None
    return results[0], conn


def chunks_of(events: Iterable[Any]) -> list[Any]:
    return [e.chunk for e in events if isinstance(e, ChunkReceived)]


def text_of(events: Iterable[Any]) -> str:
    return StreamAccumulator(events).completion().text


def kinds(events: Iterable[Any]) -> list[str]:
    return [type(e).__name__ for e in events]
