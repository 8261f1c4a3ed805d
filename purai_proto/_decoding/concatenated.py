"""The concatenated framing, ``{...}{...}`` (PurAI), and NDJSON, one value a line.

Theory of operation
-------------------
PurAI writes its chunks as JSON objects back to back, ``{...}{...}``, with nothing
between them; HTTP may cut that text anywhere. msgspec cannot decode a prefix of a
value, but ``Decoder.decode_lines`` decodes a run of *complete* values written back to
back (whitespace between them optional) in one C call, and checks every byte while
doing so. The only hard part left is finding where the complete values end, and
doing that byte by byte in Python would cost far more than decoding.

So the concatenated framing *guesses* the end of the last complete value in the
buffer and lets msgspec check the guess:

* Where a new value starts, its ``{`` follows a ``}`` with only whitespace between.
  In valid JSON that pattern occurs nowhere else except inside strings, so the last
  such ``{`` (found with ``bytearray.rfind``, in C, looking only at new bytes) is
  almost always the start of the last, incomplete value, and everything before it
  is a run of complete values.
* When the buffer ends with ``}``, the last value may itself be complete (a live
  stream delivers one chunk per read): msgspec is asked to decode it too.

A guess is only ever accepted by msgspec decoding the bytes before it without an
error, and a prefix of a stream decodes without error only when it ends exactly at
a value boundary: a wrong guess can cost time, never correctness. When a guess fails
(a ``}{`` inside a string, broken input) or speculation has cost more than the data
is worth, :class:`~purai_proto._decoding.scanner.ValueScanner` finds the exact
boundaries instead, and keeps its state so no byte is scanned twice.
"""

from __future__ import annotations

from typing import Any

from .._errors import RemoteProtocolError
from .framing import CLOSERS, OBJECT_START, WHITESPACE, BaseFraming, decode_spans, too_large
from .scanner import Layout, ValueScanner
from .values import MSGSPEC_ERRORS, RUN, Values

__all__ = ["ConcatenatedFraming"]

_CLOSE_BRACE = 0x7D


def _ends_with_closer(data: bytes | bytearray | memoryview) -> bool:
    """Whether the last byte other than line ends and spaces closes an object or array."""
    i = len(data) - 1
    while i >= 0 and data[i] in WHITESPACE:
        if i < len(data) - 4:  # long whitespace: let the buffered path deal with it
            return False
        i -= 1
    return i >= 0 and data[i] in CLOSERS


def _value_start(buf: bytearray, base: int) -> int:
    """Stream offset of the first byte of ``buf`` that is not whitespace."""
    return base + len(buf) - len(buf.lstrip())


class ConcatenatedFraming(BaseFraming):
    """``{...}{...}`` (PurAI), and NDJSON, which is the same with newlines between.

    ``self._buf`` holds the bytes not yet decoded; its first byte is always at a value
    boundary. See the module docstring for the guess-and-check scheme.
    """

    def __init__(self, values: Values, limit: int, *, ndjson: bool) -> None:
        self._values = values
        self._decode = values.one.decode
        self._decode_lines = values.one.decode_lines
        # Values whose own fields say whether they are error objects (chunks).
        self._error_fields = values.struct_errors
        self._untyped = values.untyped
        self._limit = limit
        self._ndjson = ndjson
        self._buf = bytearray()
        self._base = 0  # stream offset of self._buf[0]
        # The last byte other than whitespace in the buffer, or -1.
        self._last_byte = -1
        # Bytes msgspec read in guesses that failed since the buffer last advanced;
        # past about twice the buffer's size, the exact scanner takes over.
        self._wasted = 0
        # Exact mode: a scanner reading the buffer from its start, and where it is.
        self._scanner: ValueScanner | None = None
        self._scanned = 0
        # The buffer is empty and the last read held one value: the next read is
        # decoded as one value first, a cheaper call than decoding it as a run
        # (for types read only from objects and arrays, or checked: see feed()).
        self._one_value_reads = values.from_containers or values.untyped
        self._one_per_read = self._one_value_reads

    def feed(self, data: bytes | bytearray | memoryview, out: list[Any]) -> None:
        # The hot path of a live stream, one chunk per read: every test and call here
        # is paid once per chunk, so there are as few as can tell it. msgspec rejects
        # bytes after the value, so one decode call that succeeds proves the data is
        # exactly one value, at a boundary (the flag says the buffer is empty).
        if self._one_per_read and len(data) <= self._limit:
            try:
                value = self._decode(data)
            except MSGSPEC_ERRORS:
                self._one_per_read = False  # a part, several values, or bad bytes
            else:
                if self._error_fields and value.error is None and value.status is None:
                    self._base += len(data)
                    out.append(value)
                    return
                if not self._untyped or type(value) in (dict, list):
                    self._base += len(data)
                    self._values.emit([value], data, RUN, out)
                    return
                self._one_per_read = False  # a number or a string: read exactly below
        buf = self._buf
        whole_failed = False
        # The buffer is at a boundary and the data may be whole values, several in one
        # read: decode them in place. (Data longer than the size limit may hide an
        # oversized value, and only the buffered path checks each value's size.)
        if not buf and data and len(data) <= self._limit:
            last = data[-1]
            if last in WHITESPACE and len(data) > 1:
                last = data[-2]  # NDJSON's "}\n", tested without a call
                if last in WHITESPACE:
                    last = _CLOSE_BRACE if _ends_with_closer(data) else -1
            if last in CLOSERS:
                # (_decode_run, inlined: a call costs as much as a small check here.)
                try:
                    values: list[Any] | None = self._decode_lines(data)
                except MSGSPEC_ERRORS:
                    values = None
                if values is not None and self._untyped:
                    values = self._checked_untyped(values)
                if values is not None:
                    self._base += len(data)
                    self._one_per_read = self._one_value_reads and len(values) == 1
                    self._values.emit(values, data, RUN, out)
                    return
                whole_failed = True
                self._wasted += len(data)
        self._one_per_read = False  # the buffer holds bytes from here on
        new_from = len(buf)
        buf += data
        end = len(buf)
        if end == new_from:
            return
        prev_last_byte = self._last_byte
        self._last_byte = last_byte = self._last_byte_of(new_from, end)
        if last_byte < 0:  # nothing but whitespace since the last value: drop it
            self._consume(end)
            return
        if self._scanner is None:
            self._guess(new_from, end, prev_last_byte, whole_failed, out)
        # (A guess that succeeded consumed the start of the buffer: its length now.)
        if self._scanner is None and len(buf) > self._limit:
            # Read it exactly before calling it too large: bytes that are no JSON value
            # at all must be reported as such, wherever the stream was cut.
            self._start_exact()
        if self._scanner is not None:
            self._feed_exact(len(buf), out)
        self._check_pending()

    def close(self, out: list[Any]) -> None:
        if self._scanner is None and self._buf:
            if self._try_decode(len(self._buf), out):
                return
            self._start_exact()
        if self._scanner is not None:
            self._feed_exact(len(self._buf), out)
        rest = self._buf.lstrip()
        if rest:
            raise RemoteProtocolError(
                f"stream ended inside a value, after {len(rest)} bytes of it",
                offset=self._base + len(self._buf) - len(rest),
            )

    # -- the guess ------------------------------------------------------------------

    def _guess(
        self, new_from: int, end: int, prev_last_byte: int, whole_failed: bool, out: list[Any]
    ) -> None:
        # The whole buffer may be complete when it ends with a closing bracket: the
        # common case of a live stream, one chunk per read.
        tried_all = whole_failed or self._last_byte in CLOSERS
        if tried_all and not whole_failed and self._try_decode(end, out):
            return
        if self._scanner is not None:  # that guess used up the budget
            return
        # Otherwise, everything before the last value start is complete.
        cut = self._find_cut(new_from, end, prev_last_byte)
        if cut <= 0:
            if tried_all:
                # The buffer ends with a bracket, does not decode, and holds no other
                # place to cut: it may be bad, so find out now rather than at the end.
                self._start_exact()
            return
        if self._try_decode(cut, out):
            return
        # The "}{" found may sit inside a string of the last value: try the one before.
        cut = self._find_cut(new_from, cut - 1, prev_last_byte) if cut > new_from else 0
        if cut > 0 and self._try_decode(cut, out):
            return
        self._start_exact()

    def _last_byte_of(self, start: int, end: int) -> int:
        """The last non-whitespace byte of the buffer, looking only at new bytes."""
        buf = self._buf
        for i in range(end - 1, start - 1, -1):
            if buf[i] not in WHITESPACE:
                return buf[i]
        return self._last_byte

    def _find_cut(self, lo: int, hi: int, prev_last_byte: int) -> int:
        """Index of the last likely value start in ``buf[lo:hi]``, or 0 if none.

        Looks only at ``buf[lo:hi]`` (new bytes), so the cost of all guesses over a
        stream is linear in its length.
        """
        buf = self._buf
        if self._ndjson:
            return buf.rfind(b"\n", lo, hi) + 1
        pos = buf.rfind(b"{", lo, hi)
        while pos > 0:
            i = pos - 1
            while i >= lo and buf[i] in WHITESPACE:
                i -= 1
            before = buf[i] if i >= lo else prev_last_byte
            if before == _CLOSE_BRACE and OBJECT_START.match(buf, pos):
                return pos
            pos = buf.rfind(b"{", lo, i + 1) if i >= lo else -1
        return 0

    def _try_decode(self, cut: int, out: list[Any]) -> bool:
        """Decode ``buf[:cut]`` as a run of complete values if it is one.

        Returns False, having consumed nothing, when msgspec rejects the bytes: the
        guess was wrong or the bytes are bad, and only the exact scanner can tell.
        """
        if cut > self._limit:
            # Each value must be held to the limit, and only the scanner knows where
            # each one ends. (A shorter run cannot hold an oversized value.)
            self._start_exact()
            return False
        region = bytes(memoryview(self._buf)[:cut])
        values = self._decode_run(region)
        if values is None:
            self._wasted += cut
            if self._wasted > 2 * len(self._buf) + 65536:
                # Guessing at this value has cost more than reading it exactly
                # would: the scanner decides from now on (keeps long values linear).
                self._start_exact()
            return False
        self._values.emit(values, region, RUN, out)
        self._consume(cut)
        return True

    def _decode_run(self, region: bytes | bytearray | memoryview) -> list[Any] | None:
        """The values of ``region`` if it is a run of whole values, else None."""
        try:
            values: list[Any] = self._decode_lines(region)
        except MSGSPEC_ERRORS:
            return None
        return self._checked_untyped(values) if self._untyped else values

    @staticmethod
    def _checked_untyped(values: list[Any]) -> list[Any] | None:
        if not all(type(v) in (dict, list) for v in values):
            return None  # a number or a string: the exact scanner will say where
        return values

    def _consume(self, n: int) -> None:
        del self._buf[:n]
        self._base += n
        self._wasted = 0
        if not self._buf:
            self._last_byte = -1

    # -- exact mode -----------------------------------------------------------------

    def _start_exact(self) -> None:
        self._scanner = ValueScanner(Layout.CONCATENATED)
        self._scanned = 0

    def _feed_exact(self, end: int, out: list[Any]) -> None:
        scanner = self._scanner
        assert scanner is not None
        spans = scanner.scan(self._buf, self._scanned, end, self._base)
        self._scanned = end
        if spans:
            # If a value is bad this raises, and the decoder is finished anyway.
            decode_spans(self._values, self._limit, self._buf, self._base, spans, out, array=False)
            self._consume(spans[-1][1] - self._base)
            # The values are out: back to guessing, for the value in progress too.
            self._scanner = None
        if scanner.error is not None:
            raise scanner.error

    def _check_pending(self) -> None:
        if len(self._buf) > self._limit:
            # The value's own size, without the whitespace before it (which is kept,
            # or not, depending on how the stream was cut).
            start = _value_start(self._buf, self._base)
            if self._base + len(self._buf) - start > self._limit:
                raise too_large("a value", self._limit, start)
