"""What must hold for any input, checked by the fuzzers and by the test suite.

1. Any bytes either decode or raise :class:`purai_proto.RemoteProtocolError`; no other
   exception escapes (atheris reports one as a crash).
2. Fed whole or cut into pieces, the same bytes give the same answer: the same values
   or events, and the same error.
3. Nothing loops forever: every call returns.

The first byte or two of a fuzz input choose the options (framing, type, piece size);
the rest is the stream, so the fuzzer explores options and content together.
"""

from __future__ import annotations

from typing import Any

import msgspec

from purai_proto import (
    NEED_DATA,
    ChatCompletionChunk,
    ChatRequest,
    ChunkDecoder,
    ClientConnection,
    Message,
    RemoteProtocolError,
    StreamEnded,
)

__all__ = ["check_connection", "check_decoder"]

FRAMINGS = ("auto", "concatenated", "sse", "ndjson", "json-array")
# Small limits, so that the limit checks are reached by small inputs too.
LIMITS = {"max_object_size": 2048, "max_buffer_size": 4096}


def _pieces(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def _plain(values: list[Any]) -> list[Any]:
    return [msgspec.to_builtins(v) for v in values]


def _decode(framing: str, type_: Any, pieces: list[bytes]) -> tuple[list[Any], str | None]:
    decoder = ChunkDecoder(type_, framing=framing, **LIMITS)  # type: ignore[arg-type]
    out: list[Any] = []
    try:
        for piece in pieces:
            out += decoder.feed(piece)
        out += decoder.close()
    except RemoteProtocolError as exc:
        return _plain(out), str(exc)
    return _plain(out), None


def check_decoder(data: bytes) -> None:
    """Invariants 1-3 for ChunkDecoder. Byte 0: framing and type; byte 1: piece size."""
    if len(data) < 2:
        return
    framing = FRAMINGS[data[0] % len(FRAMINGS)]
    type_: Any = Any if data[0] & 0x80 else ChatCompletionChunk
    size = data[1] % 64 + 1
    stream = data[2:]
    whole, whole_error = _decode(framing, type_, [stream])
    split, split_error = _decode(framing, type_, _pieces(stream, size))
    assert (whole_error is None) == (split_error is None), (whole_error, split_error)
    if whole_error is None:
        assert whole == split, "whole and split decode differently"
    else:
        assert whole_error == split_error, (whole_error, split_error)
        shorter, longer = sorted([whole, split], key=len)
        assert longer[: len(shorter)] == shorter, "values before the error differ"


_REQUESTS = (
    ChatRequest(model="m", messages=[Message("user", "hi")], stream=True),
    ChatRequest(model="m", messages=[Message("user", "hi")], stream=False),
)


def _drive(stream: bool, pieces: list[bytes]) -> tuple[list[Any], str | None]:
    conn = ClientConnection("example.com", max_object_size=2048, max_buffer_size=4096)
    conn.send_request(_REQUESTS[0 if stream else 1])
    events: list[Any] = []
    try:
        for piece in [*pieces, b""]:
            conn.receive_data(piece)
            while True:
                event = conn.next_event()
                if event is NEED_DATA:
                    break
                events.append(msgspec.to_builtins(event))
                if isinstance(event, StreamEnded):
                    return events, None
                assert len(events) < 100_000, "next_event() does not stop"
    except RemoteProtocolError as exc:
        return events, str(exc)
    return events, "ended without StreamEnded"


def check_connection(data: bytes) -> None:
    """Invariants 1-3 for ClientConnection. Byte 0: streamed request and piece size;
    the rest is the server's reply, followed by EOF."""
    if not data:
        return
    stream = bool(data[0] & 1)
    size = data[0] // 2 % 64 + 1
    reply = data[1:]
    whole = _drive(stream, [reply])
    split = _drive(stream, _pieces(reply, size))
    assert (whole[1] is None) == (split[1] is None), (whole[1], split[1])
    if whole[1] is None:
        assert whole[0] == split[0], "whole and split give different events"
    else:
        shorter, longer = sorted([whole[0], split[0]], key=len)
        assert longer[: len(shorter)] == shorter, "events before the error differ"
