"""The JSON-array framing: one array streamed element by element (Gemini's default).

Theory of operation
-------------------
Like the concatenated framing (see :mod:`.concatenated`), this one guesses where the
complete elements in its buffer end and lets msgspec check the guess: ``[`` + the
bytes from an element's start to a guessed end + ``]`` decodes, as a list in one
call, only when those bytes are whole elements with commas between. The few bytes
between elements (the opening ``[``, commas, whitespace, the closing ``]``) are read
by the exact scanner (:class:`~.scanner.ValueScanner`), which keeps the array's
state and reports any byte out of place with its offset.

The guesses, tried for the element in progress when new bytes arrive:

* the buffer ends with a closing bracket (a live stream, one element per read):
  everything up to it, and up to the bracket before when that one may close the
  array;
* else the last ``}`` or ``]``, comma, ``{`` among the new bytes, where the ``{``
  starts like the element in progress (elements of one stream start with the same
  key) or at least like an object.

When a guess fails (a nested array of objects, a string that looks like a boundary,
bad bytes), the scanner reads that element exactly, and guessing resumes after it:
every element costs at most one failed guess, so a huge one fed in small pieces
costs linear time. With no guess to make, the bytes wait for more; ``close()`` reads
whatever is left exactly.
"""

from __future__ import annotations

from typing import Any

from .._errors import RemoteProtocolError
from .framing import CLOSERS, OBJECT_START, WHITESPACE, BaseFraming, decode_spans, too_large
from .scanner import Layout, ValueScanner
from .values import ARRAY, MSGSPEC_ERRORS, Values

__all__ = ["JsonArrayFraming"]

_OPEN_BRACE, _COMMA, _CLOSE_ARRAY, _COLON = 0x7B, 0x2C, 0x5D, 0x3A
# How many "{" a guess looks at, from the end: enough for the elements of chat
# streams, few enough that a long element without a boundary costs little per feed.
_MAX_CANDIDATES = 16


class JsonArrayFraming(BaseFraming):
    """One JSON array streamed element by element (``[{...},\\n{...}]``).

    ``self._buf`` holds the element in progress (or the bytes between elements not
    yet read); the scanner has read it up to ``self._scanned``.
    """

    def __init__(self, values: Values, limit: int) -> None:
        self._values = values
        self._decode_list = values.many.decode
        self._limit = limit
        self._buf = bytearray()
        self._base = 0  # stream offset of self._buf[0]
        self._scanned = 0
        self._scanner = ValueScanner(Layout.ARRAY)
        # The scanner reads the element in progress itself: a guess at it failed.
        self._exact = False

    @property
    def done(self) -> bool:
        return self._scanner.array_closed

    def feed(self, data: bytes | bytearray | memoryview, out: list[Any]) -> None:
        new_from = len(self._buf)
        self._buf += data
        self._read(new_from, out)
        if len(self._buf) > self._limit:
            # Read it exactly before calling it too large: bytes that break the
            # array must be reported as such, wherever the stream was cut.
            self._read(0, out, exact=True)
            if len(self._buf) > self._limit:
                raise too_large("a value", self._limit, self._scanner.value_start)

    def close(self, out: list[Any]) -> None:
        self._read(0, out, exact=True)
        if self._scanner.inside_value:
            raise RemoteProtocolError(
                f"stream ended inside an array element, after {len(self._buf)} bytes of it",
                offset=self._scanner.value_start,
            )
        if not self._scanner.array_closed:
            raise RemoteProtocolError(
                "stream ended before the array's closing ']'", offset=self._base + len(self._buf)
            )

    def _read(self, new_from: int, out: list[Any], *, exact: bool = False) -> None:
        """Read the buffer from where the scanner is; ``buf[new_from:]`` is new.

        With ``exact``, the scanner reads every element to the end of the buffer.
        """
        buf = self._buf
        scanner = self._scanner
        end = len(buf)
        guessed: bool | None = False
        try:
            while self._scanned < end and scanner.error is None:
                if not scanner.inside_value:
                    self._scanned = scanner.skip_between(buf, self._scanned, end, self._base)
                elif exact or self._exact:
                    self._read_exactly(out)
                elif guessed:
                    break  # the guess took the last element end it could see
                else:
                    guessed = self._guess(new_from, out)
                    if guessed is None:
                        break  # no end in sight: wait for more bytes
                    self._exact = not guessed
        finally:  # on an error too: what was decoded is out, drop it
            keep_from = scanner.value_start - self._base if scanner.inside_value else self._scanned
            del buf[:keep_from]
            self._base += keep_from
            self._scanned -= keep_from
        if scanner.error is not None:
            raise scanner.error

    def _read_exactly(self, out: list[Any]) -> None:
        end = len(self._buf)
        spans = self._scanner.scan(self._buf, self._scanned, end, self._base)
        self._scanned = end
        if spans:
            # If a value is bad this raises, and the decoder is finished anyway.
            decode_spans(self._values, self._limit, self._buf, self._base, spans, out, array=True)
            self._exact = False  # back to guessing, for the element in progress too

    # -- the guess ------------------------------------------------------------------

    def _guess(self, new_from: int, out: list[Any]) -> bool | None:
        """Decode whole elements from the one in progress on, if a guess finds them.

        Returns True when it did, False when a guess failed, None when there was
        nothing to guess at.
        """
        buf = self._buf
        start = self._scanner.value_start - self._base
        lo = max(new_from, start + 1)
        last = len(buf) - 1
        while last >= lo and buf[last] in WHITESPACE:
            last -= 1
        if last < lo:
            return None  # nothing new but whitespace
        cuts = []
        byte = buf[last]
        if byte in (_COMMA, _CLOSE_ARRAY):
            # After an element, or closing the array after one (or closing an array
            # inside the element, when the second guess is right).
            cut = self._end_before(last, start)
            if cut:
                cuts.append(cut)
        if byte in CLOSERS:
            cuts.append(last + 1)
        for cut in cuts:
            if self._try_decode(start, cut, out):
                return True
        # The bytes do not end with an element: look for the last one among them.
        cut = self._find_cut(start, lo)
        if cut and cut not in cuts:
            return self._try_decode(start, cut, out)
        return False if cuts else None

    def _end_before(self, pos: int, start: int) -> int:
        """The index past a closing bracket before ``buf[pos]`` and whitespace, or 0."""
        buf = self._buf
        i = pos - 1
        while i > start and buf[i] in WHITESPACE:
            i -= 1
        return i + 1 if i > start and buf[i] in CLOSERS else 0

    def _find_cut(self, start: int, lo: int) -> int:
        """The index past the last likely element end before an element start in
        ``buf[lo:]``, or 0 if there is none."""
        buf = self._buf
        # The element's first key, "{" to ":", which the next element likely shares
        # and nested objects likely do not: found by one search, in C.
        match = OBJECT_START.match(buf, start)
        if match is not None and buf[match.end() - 1] == _COLON:
            prefix = bytes(buf[start : match.end()])
            pos = buf.rfind(prefix, lo)
            while pos > start:
                cut = self._element_before(pos, start)
                if cut:
                    return cut
                pos = buf.rfind(prefix, lo, pos)
        # Else the last "{" that looks like an object's start, after a comma.
        pos = len(buf)
        for _ in range(_MAX_CANDIDATES):
            pos = buf.rfind(b"{", lo, pos)
            if pos < 0:
                break
            if OBJECT_START.match(buf, pos):
                cut = self._element_before(pos, start)
                if cut:
                    return cut
        return 0

    def _element_before(self, pos: int, start: int) -> int:
        """For an element starting at ``buf[pos]``: the index past the closing bracket
        of the one before (a comma and whitespace between), or 0."""
        buf = self._buf
        i = pos - 1
        while i > start and buf[i] in WHITESPACE:
            i -= 1
        return self._end_before(i, start) if i > start and buf[i] == _COMMA else 0

    def _try_decode(self, start: int, cut: int, out: list[Any]) -> bool:
        """Decode ``buf[start:cut]`` as whole elements if it is that; say whether."""
        if cut - start > self._limit:
            return False  # only the scanner can hold each element to the limit
        array = b"".join((b"[", memoryview(self._buf)[start:cut], b"]"))
        try:
            values: list[Any] = self._decode_list(array)
        except MSGSPEC_ERRORS:
            return False
        if self._values.untyped and not all(type(v) in (dict, list) for v in values):
            return False  # a number or a string: the exact scanner will say where
        self._values.emit(values, memoryview(array)[1:-1], ARRAY, out)
        self._scanner.value_ended()
        self._scanned = cut
        return True
