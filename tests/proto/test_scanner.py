"""The exact scanner on its own: where values start and end, however the bytes are cut.

The decoder tests reach the scanner only when a guess fails; these check its offsets,
its state between calls and its errors directly.
"""

from __future__ import annotations

import pytest

from purai_proto import RemoteProtocolError
from purai_proto._decoding.scanner import Layout, ValueScanner
from tests.helpers.splitting import all_two_piece_splits, split_ways

Spans = list[tuple[int, int]]


def scan_pieces(pieces: list[bytes], layout: Layout) -> tuple[ValueScanner, Spans]:
    """Feed ``pieces`` as a framing does: scan only new bytes, drop finished values."""
    scanner = ValueScanner(layout)
    buf = bytearray()
    base = 0  # stream offset of buf[0]
    scanned = 0
    spans: Spans = []
    for piece in pieces:
        buf += piece
        spans += scanner.scan(buf, scanned, len(buf), base)
        if scanner.error is not None:
            break
        # Keep only the value in progress, as the framings do: offsets stay absolute.
        keep_from = scanner.value_start - base if scanner.inside_value else len(buf)
        del buf[:keep_from]
        base += keep_from
        scanned = len(buf)
    return scanner, spans


def values_at(data: bytes, spans: Spans) -> list[bytes]:
    return [data[start:stop] for start, stop in spans]


CONCATENATED = [
    (b'{"a":1}{"b":2}', [b'{"a":1}', b'{"b":2}']),
    (b' {"a":"}{"} \r\n[1,[2]]\t{}', [b'{"a":"}{"}', b"[1,[2]]", b"{}"]),
    # Escapes: a quote and a backslash inside strings, with brackets after them.
    (b'{"q":"\\"}"}{"b":"\\\\"}', [b'{"q":"\\"}"}', b'{"b":"\\\\"}']),
    (b'{"n":{"m":[{},{"k":"]"}]}}', [b'{"n":{"m":[{},{"k":"]"}]}}']),
]


@pytest.mark.parametrize(("data", "expected"), CONCATENATED)
def test_concatenated_values_however_cut(data: bytes, expected: list[bytes]) -> None:
    for way, pieces in split_ways(data):
        scanner, spans = scan_pieces(pieces, Layout.CONCATENATED)
        assert scanner.error is None, way
        assert values_at(data, spans) == expected, way
        assert not scanner.inside_value, way


def test_an_escape_cut_after_its_backslash() -> None:
    data = b'{"a":"x\\"}"}{}'
    for pieces in all_two_piece_splits(data):
        _, spans = scan_pieces(pieces, Layout.CONCATENATED)
        assert values_at(data, spans) == [b'{"a":"x\\"}"}', b"{}"]


def test_a_value_in_progress_is_reported_with_its_start() -> None:
    scanner, spans = scan_pieces([b'{"a":1}  {"b":'], Layout.CONCATENATED)
    assert spans == [(0, 7)]
    assert scanner.inside_value
    assert scanner.value_start == 9


def test_first_only_stops_after_one_value() -> None:
    scanner = ValueScanner()
    data = b"{}[]{}"
    assert scanner.scan(data, 0, len(data), 100, first_only=True) == [(100, 102)]
    assert scanner.scan(data, 2, len(data), 100) == [(102, 104), (104, 106)]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b'[{"a":1}, {"b":[2]}]', [b'{"a":1}', b'{"b":[2]}']),
        (b' [\n{"s":"],["}\n,\n[]\n] ', [b'{"s":"],["}', b"[]"]),
        (b"[]", []),
        (b" [ ] ", []),
    ],
)
def test_array_elements_however_cut(data: bytes, expected: list[bytes]) -> None:
    for way, pieces in split_ways(data):
        scanner, spans = scan_pieces(pieces, Layout.ARRAY)
        assert scanner.error is None, way
        assert values_at(data, spans) == expected, way
        assert scanner.array_closed, way


def test_an_open_array_is_not_closed() -> None:
    scanner, spans = scan_pieces([b'[{"a":1},'], Layout.ARRAY)
    assert spans == [(1, 8)]
    assert not scanner.array_closed
    assert not scanner.inside_value


@pytest.mark.parametrize(
    ("data", "layout", "message", "offset", "before"),
    [
        (b"{} x", Layout.CONCATENATED, "expected a JSON object or array, found 'x'", 3, 1),
        (b'{}"s"', Layout.CONCATENATED, "expected a JSON object or array, found '\"'", 2, 1),
        (b"{}\x00", Layout.CONCATENATED, "found byte 0x00", 2, 1),
        (b"{}", Layout.ARRAY, "expected '[' to open the array, found '{'", 0, 0),
        (b"[{} {}]", Layout.ARRAY, "expected ',' or ']' after an array element", 4, 1),
        (b"[1]", Layout.ARRAY, "expected a value, found '1'", 1, 0),
        (b"[{}] {}", Layout.ARRAY, "unexpected '{' after the end of the array", 5, 1),
    ],
)
def test_errors_name_the_byte_and_its_offset(
    data: bytes, layout: Layout, message: str, offset: int, before: int
) -> None:
    for way, pieces in split_ways(data):
        scanner, spans = scan_pieces(pieces, layout)
        error = scanner.error
        assert isinstance(error, RemoteProtocolError), way
        assert message in str(error), way
        assert error.offset == offset, way
        # The values completed before the bad byte are still returned.
        assert len(spans) == before, way
