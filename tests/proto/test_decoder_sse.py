"""The SSE framing's fast paths against the event-stream format, cut every way.

:class:`~purai_proto._decoding.sse.SseFraming` reads runs of single-line ``data:``
events as a block, and one event per read without buffering; everything else goes
line by line. These bodies sit on the edges between the two: each is checked against
a plain reading of the format (WHATWG HTML, 9.2.6), fed whole, byte by byte, at
random cuts and cut in two at every offset.
"""

from __future__ import annotations

import json
import re
from typing import Any

import msgspec
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from purai_proto import ChunkDecoder, ErrorBody, RemoteProtocolError
from tests.helpers.splitting import all_two_piece_splits, split_ways

_LINE = re.compile(rb"([^\r\n]*)(?:\r\n|\r|\n)")


def read_events(body: bytes) -> list[Any]:
    """What the format says ``body`` holds: each event's data, decoded (dicts)."""
    body = body.removeprefix(b"\xef\xbb\xbf")
    if not body.endswith((b"\r", b"\n")):
        body += b"\n"
    values: list[Any] = []
    data: list[bytes] = []
    event = b""
    for match in _LINE.finditer(body + b"\n"):
        line = match[1]
        if not line:
            payload = b"\n".join(data)
            if data and payload != b"[DONE]":
                error = event == b"error" or b'"error"' in payload
                values.append("error" if error else msgspec.json.decode(payload))
            data, event = [], b""
        elif not line.startswith(b":"):
            name, _, value = line.partition(b":")
            value = value.removeprefix(b" ")
            if name == b"data":
                data.append(value)
            elif name == b"event":
                event = value
    return values


def decode(pieces: list[bytes], framing: str = "sse") -> list[Any]:
    decoder = ChunkDecoder(Any, framing)  # type: ignore[call-overload]
    out: list[Any] = []
    for piece in pieces:
        out += decoder.feed(piece)
    out += decoder.close()
    return ["error" if isinstance(v, ErrorBody) else v for v in out]


def events(*payloads: Any, end: bytes = b"\n", field: bytes = b"data: ") -> bytes:
    """Single-line data events: the shape the fast paths read."""
    texts = [p if isinstance(p, bytes) else json.dumps(p).encode() for p in payloads]
    return b"".join(field + text + end + end for text in texts)


RUN = events({"a": 1}, {"b": "}{\\n"}, [1, 2], {"c": "data: x"})
BODIES = {
    "lf": RUN + b"data: [DONE]\n\n",
    "crlf": events({"a": 1}, {"b": 2}, b"[DONE]", end=b"\r\n"),
    "cr": events({"a": 1}, {"b": 2}, b"[DONE]", end=b"\r"),
    "crlf-then-lf": b'data: {"a": 1}\r\n\ndata: {"b": 2}\n\r\n',
    "lf-with-a-cr-line-end": RUN + b'data: {"x": 1}\r\rdata: {"y": 2}\n\n' + RUN,
    "no-space": events({"a": 1}, {"b": 2}, field=b"data:"),
    "space-and-no-space": RUN + events({"x": 1}, field=b"data:") + RUN,
    "two-spaces": events({"a": 1}, field=b"data:  ") + RUN,
    "multi-line-data": RUN + b'data: {"a":\ndata: [1,\ndata: 2]}\n\n' + RUN,
    "comments-between": b": open\n\n" + RUN + b": keep-alive\n\n" + RUN + b":x\n",
    "fields": RUN + b'id: 7\nretry: 10\nevent: message\nfoo\ndata: {"m": 1}\n\n' + RUN,
    "bom": b"\xef\xbb\xbf" + RUN,
    "bom-crlf": b"\xef\xbb\xbf" + events({"a": 1}, {"b": 2}, end=b"\r\n"),
    "extra-blank-lines": RUN + b"\n\n\n" + RUN + b"\r\n\r\n" + RUN,
    "error-event": RUN + b'event: error\ndata: {"error": {"message": "x"}}\n\n' + RUN,
    "error-object": RUN + events({"error": {"message": "x"}}) + RUN,
    "no-final-blank-line": RUN + b'data: {"z": 0}',
    "no-final-line-end": RUN + b'data: {"z": 0}\n',
    "scalars": events(1, "text", None, 2.5),
    "done-then-comment": RUN + b"data: [DONE]\n\n: bye\n\n",
    "objects-then-done": events({"a": 1}, {"b": {"c": []}}, b"[DONE]"),
    "objects-then-done-no-space": events({"a": 1}, {"b": 2}, b"[DONE]", field=b"data:"),
    "tabs-between-tokens": b'data: {\t"a":\t1}\n\ndata: {"b": [\t]}\n\n' + RUN,
    "a-space-after-an-object": b"data: {} \n\ndata: {}\n\n" + RUN,
}


@pytest.mark.parametrize("name", BODIES)
def test_every_cut_reads_as_the_format_says(name: str) -> None:
    body = BODIES[name]
    want = read_events(body)
    assert want, "a body with no values tests nothing"
    for how, pieces in split_ways(body):
        assert decode(pieces) == want, how
    for pieces in all_two_piece_splits(body):
        assert decode(pieces) == want, pieces


@pytest.mark.parametrize("name", ["lf", "crlf", "bom", "no-space", "comments-between"])
def test_auto_reads_the_same(name: str) -> None:
    body = BODIES[name]
    assert decode([body], "auto") == read_events(body)


def test_one_event_per_read_and_done() -> None:
    decoder = ChunkDecoder(Any, "sse")
    for i in range(3):
        values: list[Any] = decoder.feed(events({"i": i}))
        assert values == [{"i": i}]
    assert not decoder.done
    assert decoder.feed(b"data: [DONE]\n\n") == []
    assert decoder.done
    assert decoder.close() == []


def test_bytes_like_reads() -> None:
    body = BODIES["lf"]
    want = read_events(body)
    for kind in (bytearray, memoryview):
        assert decode([kind(body)]) == want  # type: ignore[list-item]


BAD = {
    # body, values before the error, the error's offset, what it says
    "bad-payload-in-a-run": (RUN + b"data: {nope}\n\n" + RUN, 4, len(RUN), "invalid JSON"),
    "empty-payload": (RUN + b"data:\n\n" + RUN, 4, len(RUN), "invalid JSON"),
    "two-values-in-one": (RUN + b"data: {}{}\n\n", 4, len(RUN), "invalid JSON"),
    "value-across-events": (RUN + b'data: {"a":\n\ndata: 1}\n\n', 4, len(RUN), "invalid JSON"),
    "data-after-done": (RUN + b"data: [DONE]\n\n" + RUN, 4, len(RUN) + 14, "after 'data: [DONE]'"),
    "crlf-bad-payload": (events({}, end=b"\r\n") + b"data: x\r\n\r\n", 1, 12, "invalid JSON"),
    # A run is decoded in one call with a tab between its events; these would decode
    # as the right number of values with the boundaries shifted, were the tab not
    # rejected inside a string, or were the count of values not checked.
    "string-across-events": (
        RUN + b'data: {"a":"}\n\ndata: {"}\n\ndata: {}{}\n\n',
        4,
        len(RUN),
        "invalid JSON",
    ),
    "object-across-events": (RUN + b'data: {"a":{}\n\ndata: {}}\n\n', 4, len(RUN), "invalid JSON"),
    "two-objects-and-a-missing-one": (
        RUN + b"data: {}{}\n\ndata: {}\n\n" + RUN,
        4,
        len(RUN),
        "invalid JSON",
    ),
}


@pytest.mark.parametrize("name", BAD)
def test_bad_events_raise_at_their_offset_after_the_good_ones(name: str) -> None:
    body, good, offset, message = BAD[name]
    for how, pieces in split_ways(body):
        decoder = ChunkDecoder(Any, "sse")
        out: list[Any] = []
        with pytest.raises(RemoteProtocolError, match=re.escape(message)) as info:
            for piece in pieces:
                out += decoder.feed(piece)
            out += decoder.close()
        assert len(out) == good, how
        assert info.value.offset == offset, how


def test_a_run_over_the_size_limit_is_read_line_by_line() -> None:
    small, big = events({"a": 1}), events({"b": "x" * 300})
    body = small * 20 + big
    for how, pieces in split_ways(body, seeds=1):
        decoder = ChunkDecoder(Any, "sse", max_object_size=256)
        out: list[Any] = []
        with pytest.raises(RemoteProtocolError, match="size limit") as info:
            for piece in pieces:
                out += decoder.feed(piece)
            decoder.close()
        assert len(out) == 20, how
        assert info.value.offset == 20 * len(small), how
    # Within the limit, the same run is read whole.
    assert len(decode([body])) == 21


def test_a_huge_event_in_small_pieces_is_linear_work(monkeypatch: pytest.MonkeyPatch) -> None:
    # The bytes searched for line ends and handed to msgspec must not be re-read on
    # every feed: count what msgspec is given.
    read = 0
    real = msgspec.json.Decoder.decode
    real_lines = msgspec.json.Decoder.decode_lines

    class Counting:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def decode(self, data: Any) -> Any:
            nonlocal read
            read += len(data)
            return real(self.inner, data)

        def decode_lines(self, data: Any) -> Any:
            nonlocal read
            read += len(data)
            return real_lines(self.inner, data)

    big = b"data: " + json.dumps({"items": ["x" * 50] * 40_000}).encode() + b"\n\n"
    body = big + events({"b": 1}) + big
    decoder = ChunkDecoder(Any, max_object_size=len(big) * 2)  # "auto": made later
    monkeypatch.setattr(decoder._values, "one", Counting(decoder._values.one))
    out: list[Any] = []
    for i in range(0, len(body), 1000):
        out += decoder.feed(body[i : i + 1000])
    out += decoder.close()
    assert [len(o) for o in out] == [1, 1, 1]
    assert read < 2 * len(body)


# Pieces of JSON that make payloads which are one value, several, a part of one, or
# none: the cases a run decoded in one call must tell apart exactly.
_FRAGMENTS = st.sampled_from(
    [b"{", b"}", b"[", b"]", b'"', b",", b":", b"1", b"\t", b" ", b"{}", b'"a":']
)


@given(st.lists(st.lists(_FRAGMENTS, max_size=6).map(b"".join), min_size=1, max_size=6))
@example([b'{"a":"}', b'{"}', b"{}{}"])  # one value across two events, two in one
def test_runs_of_single_line_events_read_as_the_format_says(payloads: list[bytes]) -> None:
    body = b"".join(b"data: " + payload + b"\n\n" for payload in payloads)
    try:
        want: list[Any] | None = read_events(body)
    except msgspec.DecodeError:
        want = None  # some event is not one JSON value
    for how, pieces in split_ways(body):
        if want is None:
            with pytest.raises(RemoteProtocolError):
                decode(pieces)
        else:
            assert decode(pieces) == want, how
