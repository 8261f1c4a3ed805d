"""The SSE framing: server-sent events, as OpenAI streams chunks.

Theory of operation
-------------------
The event-stream format (WHATWG HTML, section 9.2.6, "Interpreting an event stream")
is made of lines: they end in CR, LF or CRLF; a blank line ends an event; the
``data:`` lines of an event are joined with LF; ``event:`` names it; lines starting
with ``:`` are comments; ``id:``, ``retry:`` and unknown fields change nothing here.
One space after a field's colon is dropped. OpenAI ends a stream with ``data: [DONE]``.

Nearly every chat stream is a run of events that are each one ``data:`` line holding
an object, with LF line ends (``data: {...}\\n\\n``). Reading those line by line in
Python costs more than msgspec needs to decode them, so the bytes up to the last blank
line are first tried as a block, in C (:meth:`SseFraming._decode_run`): split once at
every ``}\\n\\ndata: {``, joined again with a tab in place of each (a block whose
every CR is part of a CRLF is read with its CRLFs turned into LFs first), and decoded
in one ``decode_lines`` call. The method's docstring says why that finds exactly the
events' values or fails. One event per read skips the buffer altogether.

Anything else (comments, other fields, multi-line data, CR line ends, a payload that
does not decode, data after ``[DONE]``, a block over the size limit) goes to the
exact line-by-line reader (:meth:`SseFraming._lines`), which also gives every error
its offset. The block is tried before anything is handed out, so the fast path
changes speed, never results.
"""

from __future__ import annotations

from typing import Any

from .._errors import RemoteProtocolError
from .framing import BOM, BaseFraming, too_large
from .values import EACH, MSGSPEC_ERRORS, RUN, Values, error_from_payload, reason

__all__ = ["SseFraming"]

_DONE = b"[DONE]"
# A line holds "data: " and the like besides the payload the size limit is for.
_LINE_SLACK = 16
# What lies between two events that are each one data line holding an object, LF
# line ends, and the tab each is replaced with to decode them all in one call.
_BETWEEN = b"}\n\ndata: {"
_BETWEEN_NO_SPACE = b"}\n\ndata:{"
_TAB_BETWEEN = b"}\t{"
_DONE_END = b"[DONE]\n\n"
_DONE_EVENTS = (b"data: [DONE]\n\n", b"data:[DONE]\n\n")
_CR = 0x0D


class SseFraming(BaseFraming):
    """Server-sent events (the WHATWG event-stream format), as OpenAI streams chunks.

    Lines end in CR, LF or CRLF; ``:`` lines are comments; the ``data:`` lines of one
    event are joined with LF; a blank line ends the event. ``data: [DONE]`` ends the
    stream, and an event named ``error`` carries an error object.
    """

    def __init__(self, values: Values, limit: int) -> None:
        self._values = values
        self._decode = values.one.decode
        self._decode_lines = values.one.decode_lines
        # Values whose own fields say whether they are error objects (chunks).
        self._error_fields = values.struct_errors
        self._limit = limit
        self._buf = bytearray()  # the start of a line whose end has not arrived
        self._base = 0  # stream offset of self._buf[0]
        self._data: list[bytes] = []  # data lines of the event in progress
        self._data_size = 0
        self._data_offset = -1  # stream offset of the event's first data line
        self._event = b""
        self._done = False
        # Nothing buffered, no event in progress, no [DONE] yet: the next byte starts
        # an event, and feed() may read whole events straight from its data.
        self._idle = True

    @property
    def done(self) -> bool:
        return self._done

    def feed(self, data: bytes | bytearray | memoryview, out: list[Any]) -> None:
        if self._idle and type(data) is bytes:
            # A live stream, one event per read: "data: {...}\n\n" is decoded here,
            # with as few tests and calls as can tell it (every one is paid per chunk),
            # and a few whole events the same way. (Bytes are looked for as ints:
            # "b'\r' in data" first tries the bytes as an int and costs an exception.
            # "data: [DONE]" fails to decode, and the line reader reads it.)
            line, _, rest = data.partition(b"\n")
            if (
                rest == b"\n"
                and _CR not in line
                and line[:6] == b"data: "
                and len(data) <= self._limit
            ):
                payload = line[6:]
                try:
                    value = self._decode(payload)
                except MSGSPEC_ERRORS:
                    pass  # the line reader says where
                else:
                    self._base += len(data)
                    if self._error_fields and value.error is None and value.status is None:
                        out.append(value)
                    else:
                        self._values.emit([value], [payload], EACH, out)
                    return
            elif data[-2:] == b"\n\n" and self._whole_events(data, out):
                self._base += len(data)
                return
        buf = self._buf
        # Search only new bytes (and a CR just before them) so that a long line fed
        # in small pieces costs linear time.
        lo = max(len(buf) - 1, 0)
        buf += data
        # A CR as the very last byte may be the first half of a CRLF: it waits.
        end = max(buf.rfind(b"\n", lo), buf.rfind(b"\r", lo, len(buf) - 1)) + 1
        if end > 0:
            self._complete_lines(end, lo, out)
            del buf[:end]
        if len(buf) > self._limit + _LINE_SLACK:
            raise self.too_large(self._base)
        self._idle = not buf and not self._data and not self._event and not self._done

    def close(self, out: list[Any]) -> None:
        if self._buf:  # the last line had no line end
            block = bytes(self._buf) + b"\n"
            self._buf.clear()
            self._lines(block, out)
        if self._data:  # nor did the last event end with a blank line: keep it anyway
            self._lines(b"\n", out)

    def _complete_lines(self, end: int, lo: int, out: list[Any]) -> None:
        """Read ``buf[:end]``, whole lines, with the new bytes from ``lo`` on."""
        buf = self._buf
        start = 0
        if self._data or self._event:  # an event in progress ends line by line
            start = self._lines(bytes(memoryview(buf)[:end]), out, to_event_end=True)
        # The last blank line ends the run of whole events the fast path may take.
        lo = max(lo, start)
        cut = buf.rfind(b"\n\n", lo, end) + 2
        if cut < 2:
            cut = buf.rfind(b"\r\n\r\n", lo, end) + 4
            if cut < 4:
                cut = 0  # no blank line: no whole event
        if cut > start and self._whole_events(bytes(memoryview(buf)[start:cut]), out):
            self._base += cut - start
            start = cut
        if start < end:
            self._lines(bytes(memoryview(buf)[start:end]), out)

    def _whole_events(self, block: bytes, out: list[Any]) -> bool:
        """Decode ``block`` if it is whole events, each one ``data:`` line holding an
        object, perhaps ending with ``data: [DONE]``; if not, return False having
        changed nothing, for :meth:`_lines` to read it.

        ``block`` starts at an event boundary and ends with a blank line.
        """
        if _CR in block:
            if block.count(b"\r") != block.count(b"\r\n"):
                return False  # CR line ends: the line reader knows them
            block = block.replace(b"\r\n", b"\n")
        if len(block) > self._limit or self._done:
            return False  # (a block within the limit holds no line over it)
        done = block.endswith(_DONE_END)
        if done:  # "data: [DONE]" last: the values before it, then the end
            for event in _DONE_EVENTS:
                rest = len(block) - len(event)
                if block.endswith(event) and (rest == 0 or block.endswith(b"\n\n", 0, rest)):
                    block = block[:rest]
                    break
            else:
                return False
        if (block or not done) and not self._decode_run(block, out):
            return False
        if done:
            self._done = True
            self._idle = False
        return True

    def _decode_run(self, block: bytes, out: list[Any]) -> bool:
        """Decode ``block``, events that are each one ``data:`` line holding an object
        with LF line ends, in one ``decode_lines`` call; False if it is not that.

        Each ``\\n\\ndata: `` between a ``}`` and a ``{`` is replaced with a tab.
        That is exact: msgspec rejects a raw tab inside a string, and ``}`` then ``{``
        can only be two values (inside an object or array a comma must come between),
        so every tab is a boundary; every event holds a value, so when the count of
        values is the count of events, each event is exactly one value.
        """
        if block.startswith(b"data: {"):
            between, skip = _BETWEEN, 6
        elif block.startswith(b"data:{"):
            between, skip = _BETWEEN_NO_SPACE, 5
        else:
            return False
        # One search for the boundaries (bytes.replace would search twice).
        pieces = block.split(between)
        run = _TAB_BETWEEN.join(pieces)
        # A line end left but the last two: some event is not one data line holding
        # an object (another field, a comment, more data, a blank line).
        if run.find(b"\n") != len(run) - 2 or not run.endswith(b"}\n\n"):
            return False
        region = memoryview(run)[skip:-2]
        try:
            values = self._decode_lines(region)
        except MSGSPEC_ERRORS:
            return False  # the line reader says where
        if len(values) != len(pieces):
            return False  # some event held several values, another broken one
        self._values.emit(values, region, RUN, out)
        return True

    def _lines(self, block: bytes, out: list[Any], *, to_event_end: bool = False) -> int:
        """Read ``block``, whole lines, one by one: the exact reader.

        With ``to_event_end``, stop after the first blank line. Returns how many bytes
        of ``block`` were read.
        """
        start = offset = self._base  # stream offset of the current line
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
                offset += len(raw)
                if not line:
                    if self._data:
                        self._dispatch(values, payloads, out)
                    self._event = b""
                    if to_event_end:
                        break
                elif line[0] != 0x3A:  # lines starting with ":" are comments (keep-alives)
                    name, colon, value = line.partition(b":")
                    if colon and value[:1] == b" ":
                        value = value[1:]
                    if name == b"data":
                        self._add_data(value, offset - len(raw))
                    elif name == b"event":
                        self._event = value
                    # "id", "retry" and unknown fields are ignored, as the format says.
        finally:  # on an error too: the events before it are good
            self._values.emit(values, payloads, EACH, out)
            self._base = offset
        return offset - start

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
                values.append(self._decode(payload))
            except MSGSPEC_ERRORS as exc:
                raise RemoteProtocolError(
                    reason(exc) + " in an SSE event", offset=self._data_offset
                ) from None
            payloads.append(payload)
