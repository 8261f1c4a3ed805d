"""What must hold for any input, checked by the fuzzers and by the test suite.

1. Any bytes either decode or raise :class:`purai_proto.RemoteProtocolError`; no other
   exception escapes (atheris reports one as a crash).
2. Fed whole or cut into pieces, the same bytes give the same answer: the same values
   or events, and the same error.
3. Nothing loops forever: every call returns.
4. ClientConnection's two HTTP parsers, h11 and httptools (when installed), give the
   same events for the same reply, and leave the connection equally reusable; where
   one refuses the reply, so does the other, except for the malformed replies that
   llhttp is stricter about (:data:`LLHTTP_STRICTER`).

The first byte or two of a fuzz input choose the options (framing, type, piece size);
the rest is the stream, so the fuzzer explores options and content together.
"""

from __future__ import annotations

import re
import typing
from typing import Any

import msgspec

from purai_proto import (
    NEED_DATA,
    ChatCompletionChunk,
    ChatRequest,
    ChunkDecoder,
    ClientConnection,
    Framing,
    Message,
    RemoteProtocolError,
    StreamEnded,
    httptools_available,
)

__all__ = [
    "H11_STRICTER",
    "LLHTTP_STRICTER",
    "PARSERS",
    "check_connection",
    "check_decoder",
    "compare_parsers",
    "outcome",
]

FRAMINGS = typing.get_args(Framing)
# Small limits, so that the limit checks are reached by small inputs too.
LIMITS: dict[str, Any] = {"max_object_size": 2048, "max_buffer_size": 4096}


def _pieces(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def _plain(values: list[Any]) -> list[Any]:
    return [msgspec.to_builtins(v) for v in values]


def _decode(framing: Framing, type_: Any, pieces: list[bytes]) -> tuple[list[Any], str | None]:
    decoder = ChunkDecoder(type_, framing, **LIMITS)
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


#: The HTTP parsers ClientConnection can use here.
PARSERS = ("h11", "httptools") if httptools_available() else ("h11",)

#: llhttp's reasons for refusing replies that h11 accepts: the one class of input on
#: which the parsers may disagree (httptools raises, h11 gives events). Each is a
#: leniency of h11's on a malformed reply, never one of llhttp's (the httptools parser
#: closes those: see purai_proto/_http/llhttp_parser.py), and none of them is something a
#: server may send (RFC 9112 and RFC 9110 sections in the comments).
LLHTTP_STRICTER = (
    # A bare LF ending the status line, a field line or the head (sections 2.2 and 4:
    # a recipient MAY take LF alone; h11 does, llhttp does not by default).
    "Missing expected CR after",
    "Invalid response status",  # ... right after the status code ("HTTP/1.1 204\n")
    "Invalid header field char",  # ... as the blank line ending the head
    # Control characters other than HTAB in a field value (RFC 9110, section 5.5:
    # invalid; h11 refuses only NUL, CR, LF, VT and FF).
    "Invalid header value char",
    # Obsolete line folding (section 5.2: a recipient MAY unfold it; h11 does).
    "Unexpected whitespace after header value",
    # HTTP versions other than 0.9, 1.0, 1.1 and 2.0 (h11 takes any digit.digit).
    "Invalid HTTP version",
    # Whitespace after a chunk size, and chunk extensions that are not
    # token[=token / quoted-string] (section 7.1.1; h11 takes ";" and anything).
    "Invalid character in chunk size",
    "Invalid character in chunk extensions",
    # Content-Length as a list of equal values, or twice (section 6.3 lets a
    # recipient merge them, as h11 does), or with Transfer-Encoding (section 6.3:
    # "ought to be handled as an error"; h11 lets chunked win).
    "Invalid character in Content-Length",
    "Duplicate Content-Length",
    "Content-Length can't be present with Transfer-Encoding",
)

#: h11's one refusal of a reply that llhttp accepts, and rightly: a chunk size of
#: more than 20 hex digits (leading zeros; RFC 9112, section 7.1 sets no limit). h11
#: caps the digits, llhttp the value (at 2**64 - 1). The httptools parser cannot see
#: chunk-size lines, so it does not copy h11's cap.
H11_STRICTER = re.compile(r"illegal chunk header: bytearray\(b'[0-9A-Fa-f]{21}")

Outcome = tuple[list[Any], str | None, bool]


def outcome(stream: bool, pieces: list[bytes], http_parser: str = "h11") -> Outcome:
    """Events, the error (if any) and whether the connection is left reusable.

    After StreamEnded the rest of the reply is still received (not read), then the
    connection is asked whether it is reusable, before EOF.
    """
    conn = ClientConnection(
        "example.com",
        max_object_size=2048,
        max_buffer_size=4096,
        http_parser=http_parser,  # type: ignore[arg-type]
    )
    conn.send_request(_REQUESTS[0 if stream else 1])
    events: list[Any] = []
    ended = False
    try:
        for piece in pieces:
            conn.receive_data(piece)
            while not ended:
                event = conn.next_event()
                if event is NEED_DATA:
                    break
                events.append(msgspec.to_builtins(event))
                ended = isinstance(event, StreamEnded)
                assert len(events) < 100_000, "next_event() does not stop"
        if ended:
            return events, None, conn.reusable
        conn.receive_data(b"")
        while True:
            event = conn.next_event()
            assert event is not NEED_DATA, "NEED_DATA after EOF"
            events.append(msgspec.to_builtins(event))
            if isinstance(event, StreamEnded):
                return events, None, conn.reusable
            assert len(events) < 100_000, "next_event() does not stop"
    except RemoteProtocolError as exc:
        return events, str(exc), conn.reusable


def _same_answer(whole: Outcome, split: Outcome) -> None:
    assert (whole[1] is None) == (split[1] is None), (whole[1], split[1])
    if whole[1] is None:
        assert whole[0] == split[0], "whole and split give different events"
        assert whole[2] == split[2], "whole and split leave it differently reusable"
    else:
        shorter, longer = sorted([whole[0], split[0]], key=len)
        assert longer[: len(shorter)] == shorter, "events before the error differ"


def compare_parsers(h11: Outcome, httptools: Outcome) -> None:
    """Invariant 4, for the outcomes of one reply read by each parser."""
    h11_events, h11_error, h11_reusable = h11
    events, error, reusable = httptools
    if h11_error is None and error is None:
        assert h11_events == events, "h11 and httptools give different events"
        assert h11_reusable == reusable, "h11 and httptools leave it differently reusable"
        return
    if error is None:
        assert h11_error is not None
        assert H11_STRICTER.search(h11_error), f"httptools accepts a reply h11 refuses: {h11_error}"
    elif h11_error is None:
        reason = error.removeprefix("invalid HTTP response: ")
        assert reason != error, f"httptools alone fails: {error}"
        assert reason.startswith(LLHTTP_STRICTER), f"httptools alone refuses: {error}"
    shorter, longer = sorted([h11_events, events], key=len)
    assert longer[: len(shorter)] == shorter, "h11 and httptools differ before the error"


def check_connection(data: bytes) -> None:
    """Invariants 1-4 for ClientConnection. Byte 0: streamed request and piece size;
    the rest is the server's reply, followed by EOF."""
    if not data:
        return
    stream = bool(data[0] & 1)
    size = data[0] // 2 % 64 + 1
    reply = data[1:]
    outcomes = []
    for parser in PARSERS:
        whole = outcome(stream, [reply], parser)
        _same_answer(whole, outcome(stream, _pieces(reply, size), parser))
        outcomes.append(whole)
    if len(outcomes) == 2:
        compare_parsers(*outcomes)
