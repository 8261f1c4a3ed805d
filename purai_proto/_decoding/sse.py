"""The SSE framing: server-sent events, as OpenAI streams chunks.

Lines are parsed with ``bytes.splitlines`` (which knows CR, LF and CRLF), in blocks
of whole lines, and each event's data is decoded on its own.
"""

from __future__ import annotations

from typing import Any

from .._errors import RemoteProtocolError
from .framing import BOM, BaseFraming, too_large
from .values import EACH, MSGSPEC_ERRORS, Values, error_from_payload, reason

__all__ = ["SseFraming"]

_DONE = b"[DONE]"
# A line holds "data: " and the like besides the payload the size limit is for.
_LINE_SLACK = 16


class SseFraming(BaseFraming):
    """Server-sent events (the WHATWG event-stream format), as OpenAI streams chunks.

    Lines end in CR, LF or CRLF; ``:`` lines are comments; the ``data:`` lines of one
    event are joined with LF; a blank line ends the event. ``data: [DONE]`` ends the
    stream, and an event named ``error`` carries an error object.
    """

    def __init__(self, values: Values, limit: int) -> None:
        self._values = values
        self._limit = limit
        self._buf = bytearray()  # the start of a line whose end has not arrived
        self._base = 0  # stream offset of self._buf[0]
        self._data: list[bytes] = []  # data lines of the event in progress
        self._data_size = 0
        self._data_offset = -1  # stream offset of the event's first data line
        self._event = b""
        self._done = False

    @property
    def done(self) -> bool:
        return self._done

    def feed(self, data: bytes | bytearray | memoryview, out: list[Any]) -> None:
        buf = self._buf
        # Search only new bytes (and a CR just before them) so that a long line fed
        # in small pieces costs linear time.
        lo = max(len(buf) - 1, 0)
        buf += data
        # A CR as the very last byte may be the first half of a CRLF: it waits.
        end = max(buf.rfind(b"\n", lo), buf.rfind(b"\r", lo, len(buf) - 1)) + 1
        if end > 0:
            block = bytes(memoryview(buf)[:end])
            del buf[:end]
            self._lines(block, out)
        if len(buf) > self._limit + _LINE_SLACK:
            raise self.too_large(self._base)

    def close(self, out: list[Any]) -> None:
        if self._buf:  # the last line had no line end
            block = bytes(self._buf) + b"\n"
            self._buf.clear()
            self._lines(block, out)
        if self._data:  # nor did the last event end with a blank line: keep it anyway
            self._lines(b"\n", out)

    def _lines(self, block: bytes, out: list[Any]) -> None:
        offset = self._base  # stream offset of the current line
        self._base += len(block)
        if offset == 0 and block.startswith(BOM):  # the format says: ignore it
            block = block[len(BOM) :]
            offset = len(BOM)
        # Events decoded from this block and their payloads, handed out together so
        # that looking for error objects costs one call per block, not per event.
        values: list[Any] = []
        payloads: list[bytes] = []
        try:
            for raw in block.splitlines(keepends=True):
                line = raw.rstrip(b"\r\n")
                if len(line) > self._limit + _LINE_SLACK:  # a comment, too
                    raise self.too_large(offset)
                if not line:
                    if self._data:
                        self._dispatch(values, payloads, out)
                    self._event = b""
                elif line[0] != 0x3A:  # lines starting with ":" are comments (keep-alives)
                    name, colon, value = line.partition(b":")
                    if colon and value[:1] == b" ":
                        value = value[1:]
                    if name == b"data":
                        self._add_data(value, offset)
                    elif name == b"event":
                        self._event = value
                    # "id", "retry" and unknown fields are ignored, as the format says.
                offset += len(raw)
        finally:  # on an error too: the events before it are good
            self._values.emit(values, payloads, EACH, out)

    def _add_data(self, value: bytes, offset: int) -> None:
        if self._done:
            raise RemoteProtocolError("data after 'data: [DONE]'", offset=offset)
        if not self._data:
            self._data_offset = offset
        self._data.append(value)
        self._data_size += len(value) + 1
        if self._data_size > self._limit:
            raise self.too_large(offset)

    def too_large(self, line_offset: int) -> RemoteProtocolError:
        # At the event's start if one is in progress, else at the line's: the same
        # place whether the line arrived whole or in pieces.
        offset = self._data_offset if self._data else line_offset
        return too_large("an SSE event or line", self._limit, offset)

    def _dispatch(self, values: list[Any], payloads: list[bytes], out: list[Any]) -> None:
        payload = self._data[0] if len(self._data) == 1 else b"\n".join(self._data)
        self._data = []
        self._data_size = 0
        if payload == _DONE:
            self._done = True
        elif self._event == b"error":
            self._values.emit(values, payloads, EACH, out)
            values.clear()
            payloads.clear()
            out.append(error_from_payload(payload))
        else:
            try:
                values.append(self._values.one.decode(payload))
            except MSGSPEC_ERRORS as exc:
                raise RemoteProtocolError(
                    reason(exc) + " in an SSE event", offset=self._data_offset
                ) from None
            payloads.append(payload)
