"""The JSON-array framing: one array streamed element by element (Gemini's default).

The exact scanner finds where each element ends and where the array closes; the
elements found by one feed are decoded as one array in one msgspec call.
"""

from __future__ import annotations

from typing import Any

from .._errors import RemoteProtocolError
from .framing import BaseFraming, decode_spans, too_large
from .scanner import Layout, ValueScanner
from .values import Values

__all__ = ["JsonArrayFraming"]


class JsonArrayFraming(BaseFraming):
    """One JSON array streamed element by element (``[{...},\\n{...}]``).

    Rare enough (Gemini's default) that the exact scanner does all the work.
    """

    def __init__(self, values: Values, limit: int) -> None:
        self._values = values
        self._limit = limit
        self._buf = bytearray()
        self._base = 0  # stream offset of self._buf[0]
        self._scanned = 0
        self._scanner = ValueScanner(Layout.ARRAY)

    @property
    def done(self) -> bool:
        return self._scanner.array_closed

    def feed(self, data: bytes | bytearray | memoryview, out: list[Any]) -> None:
        self._buf += data
        end = len(self._buf)
        scanner = self._scanner
        spans = scanner.scan(self._buf, self._scanned, end, self._base)
        self._scanned = end
        decode_spans(self._values, self._limit, self._buf, self._base, spans, out, array=True)
        if scanner.error is not None:
            raise scanner.error
        # Drop what is decoded; outside an element only separators are left.
        keep_from = scanner.value_start - self._base if scanner.inside_value else end
        del self._buf[:keep_from]
        self._base += keep_from
        self._scanned -= keep_from
        if len(self._buf) > self._limit:
            raise too_large("a value", self._limit, self._scanner.value_start)

    def close(self, out: list[Any]) -> None:
        if self._scanner.inside_value:
            raise RemoteProtocolError(
                f"stream ended inside an array element, after {len(self._buf)} bytes of it",
                offset=self._scanner.value_start,
            )
        if not self._scanner.array_closed:
            raise RemoteProtocolError(
                "stream ended before the array's closing ']'", offset=self._base + len(self._buf)
            )
