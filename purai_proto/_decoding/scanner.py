"""Exact, incremental search for where JSON values end: the decoder's slow path.

The fast path of the concatenated framing (:mod:`.concatenated`) guesses where values
end and lets msgspec check the guess. When a guess fails (a ``}{`` inside a string, an
error, a value too large to keep guessing at), this scanner finds the real boundaries.
It is exact for valid JSON and keeps its state between calls, so every byte is looked
at once however the stream is split: a multi-megabyte value fed one byte at a time
costs linear time.

What it tracks is only what boundaries depend on: the nesting depth, whether the
position is inside a string, and whether a string's last byte was a backslash. It
does not validate the JSON itself (msgspec does that when it decodes the values); it
does reject, with the offset, bytes that cannot appear between values.

Regular expressions (run in C) jump over string contents and over runs of bytes that
cannot change the depth, so the Python loop turns once per bracket or string rather
than once per byte.
"""

from __future__ import annotations

import re
from enum import Enum

from .._errors import RemoteProtocolError

__all__ = ["Layout", "ValueScanner"]

# Inside a value, outside strings: the next byte that changes the state.
_STRUCTURAL = re.compile(rb'[{}\[\]"]')
# Inside a string: the longest run of content (escapes taken whole), so the next byte
# is the closing quote, a lone backslash at the end of the data, or the end of the data.
_STRING_BODY = re.compile(rb'[^"\\]*(?:\\.[^"\\]*)*', re.DOTALL)
_WHITESPACE = re.compile(rb"[ \t\r\n]*")

_OPEN = frozenset(b"{[")
_QUOTE, _BACKSLASH, _COMMA, _CLOSE_ARRAY = 0x22, 0x5C, 0x2C, 0x5D


class Layout(Enum):
    """How values sit next to each other at the top level of the stream."""

    #: ``{...}{...}`` with optional whitespace between values (PurAI, NDJSON).
    CONCATENATED = "concatenated"
    #: ``[{...}, {...}]``: the values are the elements of one array.
    ARRAY = "array"


# Where the scanner is, at the top level, between values.
_BEFORE_ARRAY, _BEFORE_VALUE, _BEFORE_FIRST, _AFTER_VALUE, _AFTER_ARRAY = range(5)


def _describe(byte: int) -> str:
    char = chr(byte)
    return repr(char) if char.isprintable() else f"byte 0x{byte:02x}"


class ValueScanner:
    """Finds the start and end offsets of every complete top-level value.

    Offsets are absolute (counted from the start of the stream), so the caller may
    drop bytes it has consumed: it passes the buffer with the stream offset of the
    buffer's first byte.
    """

    def __init__(self, layout: Layout = Layout.CONCATENATED) -> None:
        self.layout = layout
        self.depth = 0
        self.in_string = False
        self.escaped = False  # the data ended on a backslash inside a string
        self.value_start = -1  # stream offset of the value in progress, -1 if none
        self.top = _BEFORE_ARRAY if layout is Layout.ARRAY else _BEFORE_VALUE
        #: Set when the data broke the layout. Values completed before the bad byte
        #: are still returned by that call of :meth:`scan`, so the caller can hand
        #: them out before raising this.
        self.error: RemoteProtocolError | None = None

    @property
    def inside_value(self) -> bool:
        """True when the data so far ends inside a value."""
        return self.value_start >= 0

    @property
    def array_closed(self) -> bool:
        """True when the layout is ``ARRAY`` and its closing ``]`` has been seen."""
        return self.top == _AFTER_ARRAY

    def scan(
        self, data: bytes | bytearray, start: int, end: int, base: int, *, first_only: bool = False
    ) -> list[tuple[int, int]]:
        """Scan ``data[start:end]`` and return ``(start, end)`` stream offsets of every
        value completed in it; with ``first_only``, stop after the first one.

        Args:
            data: The buffer.
            start: Index in ``data`` where this call resumes; the previous call ended
                there.
            end: Index in ``data`` where the available bytes end.
            base: Stream offset of ``data[0]``.
            first_only: Stop as soon as one value is complete; the caller resumes at
                its end offset minus ``base``.

        A byte that cannot appear where it is stops the scan and sets :attr:`error`.
        """
        found: list[tuple[int, int]] = []
        pos = start
        while pos < end and self.error is None:
            if self.value_start < 0:
                try:
                    pos = self._between_values(data, pos, end, base)
                except RemoteProtocolError as exc:
                    self.error = exc
                continue
            if self.in_string:
                if self.escaped:
                    self.escaped = False
                    pos += 1
                    continue
                match = _STRING_BODY.match(data, pos, end)
                assert match is not None  # the pattern matches the empty string
                pos = match.end()
                if pos == end:
                    break
                if data[pos] == _BACKSLASH:  # a backslash as the very last byte
                    self.escaped = True
                    pos += 1
                    continue
                self.in_string = False  # the closing quote
                pos += 1
                continue
            match = _STRUCTURAL.search(data, pos, end)
            if match is None:
                break
            pos = match.start()
            byte = data[pos]
            pos += 1
            if byte == _QUOTE:
                self.in_string = True
            elif byte in _OPEN:
                self.depth += 1
            else:
                self.depth -= 1
                if self.depth == 0:
                    found.append((self.value_start, base + pos))
                    self.value_start = -1
                    self.top = _AFTER_VALUE
                    if first_only:
                        break
        return found

    def skip_between(self, data: bytes | bytearray, start: int, end: int, base: int) -> int:
        """Read ``data[start:end]`` between values until a value starts or the data
        ends; return the index where it stopped (just past a value's first byte).

        A byte that cannot appear there stops it and sets :attr:`error`.
        """
        pos = start
        while pos < end and self.value_start < 0 and self.error is None:
            try:
                pos = self._between_values(data, pos, end, base)
            except RemoteProtocolError as exc:
                self.error = exc
        return pos

    def value_ended(self) -> None:
        """The caller found the end of the value in progress itself (msgspec decoded
        it): go on between values, as if :meth:`scan` had read it."""
        self.depth = 0
        self.in_string = self.escaped = False
        self.value_start = -1
        self.top = _AFTER_VALUE

    def _between_values(self, data: bytes | bytearray, pos: int, end: int, base: int) -> int:
        pos = _WHITESPACE.match(data, pos, end).end()  # type: ignore[union-attr]
        if pos == end:
            return pos
        byte = data[pos]
        top = self.top
        if self.layout is Layout.CONCATENATED or top in (_BEFORE_VALUE, _BEFORE_FIRST):
            if top == _BEFORE_FIRST and byte == _CLOSE_ARRAY:  # "[]": no values at all
                self.top = _AFTER_ARRAY
                return pos + 1
            if byte not in _OPEN:
                what = "a JSON object or array" if self.layout is Layout.CONCATENATED else "a value"
                raise RemoteProtocolError(
                    f"expected {what}, found {_describe(byte)}", offset=base + pos
                )
            self.value_start = base + pos
            self.depth = 1
            return pos + 1
        if top == _BEFORE_ARRAY:
            if byte != 0x5B:
                raise RemoteProtocolError(
                    f"expected '[' to open the array, found {_describe(byte)}", offset=base + pos
                )
            self.top = _BEFORE_FIRST
            return pos + 1
        if top == _AFTER_VALUE:
            if byte == _COMMA:
                self.top = _BEFORE_VALUE
                return pos + 1
            if byte == _CLOSE_ARRAY:
                self.top = _AFTER_ARRAY
                return pos + 1
            raise RemoteProtocolError(
                f"expected ',' or ']' after an array element, found {_describe(byte)}",
                offset=base + pos,
            )
        raise RemoteProtocolError(
            f"unexpected {_describe(byte)} after the end of the array", offset=base + pos
        )
