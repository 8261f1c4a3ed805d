"""``ChunkDecoder``: bytes of a streamed reply in, typed chunk objects out.

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
is worth, :class:`~purai_proto._scanner.ValueScanner` finds the exact boundaries
instead, and keeps its state so no byte is scanned twice.

The SSE framing parses lines (``bytes.splitlines`` knows CR, LF and CRLF) and decodes
each event's data on its own; the JSON-array framing finds its elements with the
scanner and decodes them as one array.

Everything that goes wrong raises :class:`~purai_proto.RemoteProtocolError` with the
stream offset. When values were completed before the problem, they are returned
first and the error is raised by the next call.
"""

from __future__ import annotations

import functools
import re
import typing
from typing import Any, Generic, Literal, TypeVar, Union, overload

import msgspec

from ._errors import LocalProtocolError, RemoteProtocolError
from ._models import ChatCompletionChunk, ErrorBody, ErrorDetail
from ._scanner import Layout, ValueScanner

__all__ = ["DEFAULT_MAX_BUFFER_SIZE", "DEFAULT_MAX_OBJECT_SIZE", "ChunkDecoder", "Framing"]

T = TypeVar("T")

Framing = Literal["auto", "concatenated", "sse", "ndjson", "json-array"]
_FRAMINGS = typing.get_args(Framing)

#: Default for ``max_object_size``: the largest single value (or SSE event) accepted.
DEFAULT_MAX_OBJECT_SIZE = 16 * 1024 * 1024
#: Default for ``max_buffer_size``: the most bytes held while waiting for a value.
DEFAULT_MAX_BUFFER_SIZE = 16 * 1024 * 1024

_WS = frozenset(b" \t\r\n")
_OPEN_BRACE, _CLOSE_BRACE = 0x7B, 0x7D
_CLOSERS = frozenset(b"}]")
# What follows the "{" of a value's start: a key and its colon, or "}", or the end of
# the data so far. A "}{" inside a string is almost never followed by that, because a
# quote there would end the string: this rules most of them out before msgspec is
# asked. (Keys with escapes fail the test too; the exact scanner copes with those.)
_OBJECT_START = re.compile(rb'\{[ \t\r\n]*(?:"[^"\\]*(?:"[ \t\r\n]*(?::|$)|$)|\}|$)')
# msgspec raises these besides DecodeError (ValidationError is a DecodeError):
# invalid UTF-8 in a string, and nesting deeper than the interpreter's recursion limit.
_MSGSPEC_ERRORS = (msgspec.DecodeError, UnicodeDecodeError, RecursionError)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "JSON nested too deeply"
    if isinstance(exc, UnicodeDecodeError):
        return f"invalid UTF-8 in a string ({exc.reason})"
    return f"invalid JSON value: {exc}"


# --- decoding values ----------------------------------------------------------------


class _ErrorProbe(msgspec.Struct, gc=False):
    """Reads only the fields that mark an error object, skipping everything else.

    Raw, not decoded: the probe reads bytes a typed decoding may have skipped (an
    unknown field), and must not fail where that decoding did not.
    """

    error: msgspec.Raw = msgspec.Raw(b"null")
    status: msgspec.Raw = msgspec.Raw(b"null")

    def mark(self) -> tuple[Any, Any]:
        """(error, status) as _is_error() and _lenient_error_body() take them."""
        error = None if bytes(self.error) == b"null" else self.error
        number = bytes(self.status)
        return error, int(number) if number.isdigit() and len(number) < 10 else None


def _is_error(error: Any, status: Any) -> bool:
    return error is not None or (type(status) is int and status >= 400)


_ERROR_BODY = msgspec.json.Decoder(ErrorBody)
_ERROR_BODIES = msgspec.json.Decoder(list[ErrorBody])
_ERROR_PROBE = msgspec.json.Decoder(_ErrorProbe)
_ERROR_PROBES = msgspec.json.Decoder(list[_ErrorProbe])

# How a region of bytes was decoded, so that it can be decoded again as errors:
_RUN = 0  # values back to back: decode_lines
_ARRAY = 1  # the inside of a JSON array
_EACH = 2  # a list of separate payloads (SSE events), one value each
Region = Union[bytes, bytearray, memoryview, list[bytes]]  # noqa: UP007


def _decode_again(region: Region, how: int, one: Any, many: Any) -> list[Any]:
    if how == _RUN:
        return one.decode_lines(region)  # type: ignore[no-any-return]
    if how == _ARRAY:
        return many.decode(b"[" + bytes(region) + b"]")  # type: ignore[arg-type,no-any-return]
    return [one.decode(payload) for payload in region]


class _Values:
    """The msgspec decoders for one target type, and how to hand values out."""

    def __init__(self, type_: Any) -> None:
        self.one = msgspec.json.Decoder(type_)
        self.many = msgspec.json.Decoder(list[type_])
        fields = getattr(type_, "__struct_fields__", ())
        # msgspec's decode_lines accepts any values back to back, numbers and strings
        # too; the framings accept only objects and arrays (as the exact scanner
        # does). Structs enforce that themselves; untyped values are checked.
        self.untyped = type_ is Any or type_ is object
        # How an error object sent in place of a chunk is recognised: from the
        # decoded values when they have the fields for it (ChatCompletionChunk,
        # dicts); otherwise by decoding the same bytes again into a probe, which
        # costs time only when the bytes mention "error" or "status" at all.
        self.struct_errors = "error" in fields and "status" in fields
        self.dict_errors = self.untyped or type_ is dict

    def emit(self, values: list[Any], region: Region, how: int, out: list[Any]) -> None:
        """Append ``values`` to ``out``, with error objects turned into ErrorBody."""
        # (error, status) of each value, for those that may be error objects.
        marks: list[tuple[Any, Any]]
        if self.struct_errors:
            for value in values:  # the hot path: two attribute loads per chunk
                if value.error is not None or value.status is not None:
                    break
            else:
                out += values
                return
            marks = [(v.error, v.status) for v in values]
        elif self.dict_errors:
            marks = [
                (v.get("error"), v.get("status")) if type(v) is dict else _NO_MARK for v in values
            ]
        elif _mentions_errors(region):
            probes = _decode_again(region, how, _ERROR_PROBE, _ERROR_PROBES)
            marks = [p.mark() for p in probes]
        else:
            marks = []
        flags = [_is_error(error, status) for error, status in marks]
        if any(flags):
            try:
                bodies = _decode_again(region, how, _ERROR_BODY, _ERROR_BODIES)
            except _MSGSPEC_ERRORS:
                # An error object of a shape ErrorBody does not take ({"error": [...]}):
                # still an error, described from what the first decoding found.
                bodies = [_lenient_error_body(*mark) for mark in marks]
            values = [
                body if flag else v for v, flag, body in zip(values, flags, bodies, strict=True)
            ]
        out += values


_NO_MARK = (None, None)


def _lenient_error_body(error: Any, status: Any) -> ErrorBody:
    """An ErrorBody from an error object's ``error`` and ``status``, whatever they are."""
    if isinstance(error, msgspec.Raw):
        error = bytes(error).decode("utf-8", "replace")
    elif not isinstance(error, (str, ErrorDetail)):
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            error = ErrorDetail(message=error["message"])
        else:
            error = msgspec.json.encode(error).decode()
    return ErrorBody(status=status if type(status) is int else None, error=error)


def _mentions_errors(region: Region) -> bool:
    if isinstance(region, list):
        return any(b'"error"' in p or b'"status"' in p for p in region)
    data = bytes(region)
    return b'"error"' in data or b'"status"' in data


@functools.lru_cache(maxsize=64)
def _values_for(type_: Any) -> _Values:
    # Decoders are built once per type and reused by every ChunkDecoder.
    return _Values(type_)


# --- framings -----------------------------------------------------------------------


def _ends_with_closer(data: bytes | bytearray | memoryview) -> bool:
    """Whether the last byte other than line ends and spaces closes an object or array."""
    i = len(data) - 1
    while i >= 0 and data[i] in _WS:
        if i < len(data) - 4:  # long whitespace: let the buffered path deal with it
            return False
        i -= 1
    return i >= 0 and data[i] in _CLOSERS


def _too_large(what: str, limit: int, offset: int) -> RemoteProtocolError:
    # The message names the limit, not how far past it the data got: that depends on
    # how the stream was cut, and the same bytes must give the same error however cut.
    return RemoteProtocolError(
        f"{what} larger than the size limit ({limit} bytes: the smaller of "
        "max_object_size and max_buffer_size)",
        offset=offset,
    )


def _value_start(buf: bytearray, base: int) -> int:
    """Stream offset of the first byte of ``buf`` that is not whitespace."""
    return base + len(buf) - len(buf.lstrip())


class _Framing:
    """A framing: bytes in, regions of decoded values appended to ``out``.

    When a method raises, what it appended to ``out`` before is still valid: the
    caller returns those values and raises the error on its next call.
    """

    _base = 0  # stream offset of the first byte the framing holds

    @property
    def done(self) -> bool:
        """True once the body has said that it is complete."""
        return False

    def skip(self, n: int) -> None:
        """Count ``n`` bytes that came before the first one fed (a byte order mark)."""
        self._base += n

    def feed(self, data: bytes | bytearray | memoryview, out: list[Any]) -> None:
        raise NotImplementedError

    def close(self, out: list[Any]) -> None:
        raise NotImplementedError


def _decode_spans(
    values: _Values,
    limit: int,
    buf: bytearray,
    base: int,
    spans: list[tuple[int, int]],
    out: list[Any],
    *,
    array: bool,
) -> None:
    """Decode the values at ``spans`` (stream offsets) of ``buf`` in one msgspec call.

    Values are back to back with whitespace between (``array=False``) or commas and
    whitespace between (``array=True``). On a bad value, the good ones before it are
    appended to ``out`` and the error names the bad one's offset.
    """
    for i, (start, stop) in enumerate(spans):
        if stop - start > limit:
            _decode_spans(values, limit, buf, base, spans[:i], out, array=array)
            raise _too_large("a value", limit, start)
    if not spans:
        return
    first, last = spans[0][0] - base, spans[-1][1] - base
    region = bytes(memoryview(buf)[first:last])
    try:
        if array:
            decoded = values.many.decode(b"[" + region + b"]")
        else:
            decoded = values.one.decode_lines(region)
    except _MSGSPEC_ERRORS:
        pass
    else:
        values.emit(decoded, region, _ARRAY if array else _RUN, out)
        return
    # Some value is bad: decode them one by one to say which.
    for i, (start, stop) in enumerate(spans):
        try:
            values.one.decode(memoryview(buf)[start - base : stop - base])
        except _MSGSPEC_ERRORS as exc:
            _decode_spans(values, limit, buf, base, spans[:i], out, array=array)
            raise RemoteProtocolError(_reason(exc), offset=start) from None
    raise AssertionError("a run of values failed to decode, yet each one decodes")


class _ConcatenatedFraming(_Framing):
    """``{...}{...}`` (PurAI), and NDJSON, which is the same with newlines between.

    ``self._buf`` holds the bytes not yet decoded; its first byte is always at a value
    boundary. See the module docstring for the guess-and-check scheme.
    """

    def __init__(self, values: _Values, limit: int, *, ndjson: bool) -> None:
        self._values = values
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

    def feed(self, data: bytes | bytearray | memoryview, out: list[Any]) -> None:
        buf = self._buf
        whole_failed = False
        # The hot path of a live stream: the buffer is at a boundary and the data may
        # be exactly whole values (one chunk per read), so decode it in place. (Data
        # longer than the size limit may hide an oversized value, and only the
        # buffered path checks each value's size.)
        if not buf and data and len(data) <= self._limit:
            last = data[-1]
            if last in _CLOSERS or (last in _WS and _ends_with_closer(data)):
                values = self._decode_run(data)
                if values is not None:
                    self._base += len(data)
                    self._values.emit(values, data, _RUN, out)
                    return
                whole_failed = True
                self._wasted += len(data)
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
        tried_all = whole_failed or self._last_byte in _CLOSERS
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
            if buf[i] not in _WS:
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
            while i >= lo and buf[i] in _WS:
                i -= 1
            before = buf[i] if i >= lo else prev_last_byte
            if before == _CLOSE_BRACE and _OBJECT_START.match(buf, pos):
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
        self._values.emit(values, region, _RUN, out)
        self._consume(cut)
        return True

    def _decode_run(self, region: bytes | bytearray | memoryview) -> list[Any] | None:
        """The values of ``region`` if it is a run of whole values, else None."""
        try:
            values: list[Any] = self._values.one.decode_lines(region)
        except _MSGSPEC_ERRORS:
            return None
        if self._values.untyped and not all(type(v) in (dict, list) for v in values):
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
            _decode_spans(self._values, self._limit, self._buf, self._base, spans, out, array=False)
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
                raise _too_large("a value", self._limit, start)


class _ArrayFraming(_Framing):
    """One JSON array streamed element by element (``[{...},\\n{...}]``).

    Rare enough (Gemini's default) that the exact scanner does all the work.
    """

    def __init__(self, values: _Values, limit: int) -> None:
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
        _decode_spans(self._values, self._limit, self._buf, self._base, spans, out, array=True)
        if scanner.error is not None:
            raise scanner.error
        # Drop what is decoded; outside an element only separators are left.
        keep_from = scanner.value_start - self._base if scanner.inside_value else end
        del self._buf[:keep_from]
        self._base += keep_from
        self._scanned -= keep_from
        if len(self._buf) > self._limit:
            raise _too_large("a value", self._limit, self._scanner.value_start)

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


_DONE = b"[DONE]"
# A line holds "data: " and the like besides the payload the size limit is for.
_LINE_SLACK = 16


class _SseFraming(_Framing):
    """Server-sent events (the WHATWG event-stream format), as OpenAI streams chunks.

    Lines end in CR, LF or CRLF; ``:`` lines are comments; the ``data:`` lines of one
    event are joined with LF; a blank line ends the event. ``data: [DONE]`` ends the
    stream, and an event named ``error`` carries an error object.
    """

    def __init__(self, values: _Values, limit: int) -> None:
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
            raise self._too_large(self._base)

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
        if offset == 0 and block.startswith(_BOM):  # the format says: ignore it
            block = block[len(_BOM) :]
            offset = len(_BOM)
        # Events decoded from this block and their payloads, handed out together so
        # that looking for error objects costs one call per block, not per event.
        values: list[Any] = []
        payloads: list[bytes] = []
        try:
            for raw in block.splitlines(keepends=True):
                line = raw.rstrip(b"\r\n")
                if len(line) > self._limit + _LINE_SLACK:  # a comment, too
                    raise self._too_large(offset)
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
            self._values.emit(values, payloads, _EACH, out)

    def _add_data(self, value: bytes, offset: int) -> None:
        if self._done:
            raise RemoteProtocolError("data after 'data: [DONE]'", offset=offset)
        if not self._data:
            self._data_offset = offset
        self._data.append(value)
        self._data_size += len(value) + 1
        if self._data_size > self._limit:
            raise self._too_large(offset)

    def _too_large(self, line_offset: int) -> RemoteProtocolError:
        # At the event's start if one is in progress, else at the line's: the same
        # place whether the line arrived whole or in pieces.
        offset = self._data_offset if self._data else line_offset
        return _too_large("an SSE event or line", self._limit, offset)

    def _dispatch(self, values: list[Any], payloads: list[bytes], out: list[Any]) -> None:
        payload = self._data[0] if len(self._data) == 1 else b"\n".join(self._data)
        self._data = []
        self._data_size = 0
        if payload == _DONE:
            self._done = True
        elif self._event == b"error":
            self._values.emit(values, payloads, _EACH, out)
            values.clear()
            payloads.clear()
            out.append(_error_from_payload(payload))
        else:
            try:
                values.append(self._values.one.decode(payload))
            except _MSGSPEC_ERRORS as exc:
                raise RemoteProtocolError(
                    _reason(exc) + " in an SSE event", offset=self._data_offset
                ) from None
            payloads.append(payload)


def _error_from_payload(payload: bytes) -> ErrorBody:
    """An ErrorBody from whatever an error event carried, JSON or not."""
    try:
        return _ERROR_BODY.decode(payload)
    except _MSGSPEC_ERRORS:
        return ErrorBody(message=payload.decode("utf-8", "replace")[:500])


# --- the decoder --------------------------------------------------------------------

_BOM = b"\xef\xbb\xbf"  # UTF-8's byte order mark, which some servers put first
# A server-sent event stream starts with a comment or a field the format defines.
_SSE_START = re.compile(rb"(?::|(?:data|event|id|retry)[:\r\n])")
_SSE_FIELDS = (b"data:", b"event:", b"id:", b"retry:")
_SHOWN = 16  # bytes of a stream start shown when it tells no framing


def _could_be_sse(head: bytes | bytearray) -> bool:
    """Whether ``head`` is the start of an SSE field name, so more bytes can tell."""
    return any(field.startswith(head) for field in _SSE_FIELDS)


class ChunkDecoder(Generic[T]):
    """Incremental decoder of a streamed reply's body into typed objects.

    Feed it the body's bytes as they arrive, cut anywhere; each :meth:`feed` returns
    the objects its bytes completed. No I/O happens here.

    Args:
        type: What to decode each value into: any type msgspec can decode
            (:class:`ChatCompletionChunk` by default; ``typing.Any`` gives dicts and
            lists).
        framing: How values are laid out in the body: ``"concatenated"`` (PurAI:
            ``{...}{...}``, whitespace between allowed), ``"sse"`` (server-sent
            events, ``data: [DONE]`` at the end), ``"ndjson"`` (one value a line),
            ``"json-array"`` (one array streamed element by element), or ``"auto"``
            (decided from the first byte that is not whitespace).
        max_object_size: The largest value, or SSE event, accepted, in bytes.
        max_buffer_size: The most bytes held while waiting for a value to complete.
            A value must be held whole before it is decoded, so the smaller of the
            two limits every value, whether it arrives whole or in pieces.

    Raises:
        LocalProtocolError: An unknown framing or a limit that is not positive.

    An error object sent in place of a chunk (PurAI's ``{"status": 500, "error":
    ...}``, OpenAI's ``{"error": {...}}``, or an SSE ``event: error``) comes out as an
    :class:`ErrorBody`, never as a chunk.
    """

    @overload
    def __init__(
        self: ChunkDecoder[ChatCompletionChunk],
        *,
        framing: Framing = ...,
        max_object_size: int = ...,
        max_buffer_size: int = ...,
    ) -> None: ...

    @overload
    def __init__(
        self,
        type: type[T],
        framing: Framing = ...,
        *,
        max_object_size: int = ...,
        max_buffer_size: int = ...,
    ) -> None: ...

    @overload
    def __init__(
        self: ChunkDecoder[Any],
        type: object,
        framing: Framing = ...,
        *,
        max_object_size: int = ...,
        max_buffer_size: int = ...,
    ) -> None: ...

    def __init__(
        self,
        type: Any = ChatCompletionChunk,
        framing: Framing = "auto",
        *,
        max_object_size: int = DEFAULT_MAX_OBJECT_SIZE,
        max_buffer_size: int = DEFAULT_MAX_BUFFER_SIZE,
    ) -> None:
        if framing not in _FRAMINGS:
            raise LocalProtocolError(
                f"unknown framing {framing!r}; expected one of {', '.join(_FRAMINGS)}"
            )
        if max_object_size <= 0 or max_buffer_size <= 0:
            raise LocalProtocolError("max_object_size and max_buffer_size must be positive")
        try:
            self._values = _values_for(type)
        except (TypeError, ValueError) as exc:
            raise LocalProtocolError(f"msgspec cannot decode into {type!r}: {exc}") from None
        # A value must be held whole before it can be decoded, so the smaller of the
        # two is the largest value accepted, however the stream is cut.
        self._limit = min(max_object_size, max_buffer_size)
        self.type = type
        self.framing: Framing = framing
        self._framing: _Framing | None = None if framing == "auto" else self._make(framing)
        self._head = bytearray()  # "auto": bytes seen before the framing is known
        self._error: RemoteProtocolError | None = None
        self._closed = False

    @property
    def done(self) -> bool:
        """True once the body said it is complete (SSE ``[DONE]``, an array's ``]``).

        PurAI's concatenated framing has no end marker: its stream ends with the body.
        """
        return self._framing is not None and self._framing.done

    def feed(self, data: bytes | bytearray | memoryview) -> list[T | ErrorBody]:
        """Add bytes of the body; return every object they completed, in order.

        Args:
            data: The next bytes, of any length. ``b""`` adds nothing, but raises an
                error the previous call held back, like any call.

        Returns:
            The decoded objects, and an :class:`ErrorBody` where the server sent an
            error object.

        Raises:
            RemoteProtocolError: The bytes are not a valid stream in this framing, or
                exceed a limit. Objects completed before the problem are returned
                first; the error is raised by the next call.
            LocalProtocolError: :meth:`close` was already called.
        """
        framing = self._framing
        if framing is None or self._error is not None or self._closed:
            framing = self._before_feed(data)
            if framing is None:
                return []
            data, self._head = self._head, bytearray()  # the bytes _detect() looked at
        out: list[Any] = []
        try:
            framing.feed(data, out)
        except RemoteProtocolError as exc:
            self._error = exc
            if not out:
                raise
        return out

    def close(self) -> list[T | ErrorBody]:
        """End the stream; return any objects still pending.

        Raises:
            RemoteProtocolError: The stream ended inside a value (or before an
                array's closing bracket), its last bytes are bad, or an earlier
                error is still pending.
        """
        if self._error is not None:
            raise self._error
        if self._closed:
            return []
        self._closed = True
        out: list[Any] = []
        try:
            framing = self._framing
            if framing is None:
                # The stream ended while its first bytes were still being looked at.
                framing = self._detect(b"", final=True)
                if framing is None:
                    return []  # nothing but whitespace
                framing.feed(self._head, out)
                self._head = bytearray()
            framing.close(out)
        except RemoteProtocolError as exc:
            # No call comes after close() to raise a deferred error, so it is raised
            # now: the stream is broken, and values found in its broken tail go with it.
            self._error = exc
            raise
        return out

    # -- internals ------------------------------------------------------------------

    def _make(self, framing: str) -> _Framing:
        if framing == "sse":
            return _SseFraming(self._values, self._limit)
        if framing == "json-array":
            return _ArrayFraming(self._values, self._limit)
        return _ConcatenatedFraming(self._values, self._limit, ndjson=framing == "ndjson")

    def _before_feed(self, data: bytes | bytearray | memoryview) -> _Framing | None:
        """The slow start of feed(): errors, misuse, and telling the framing."""
        if self._error is not None:
            raise self._error
        if self._closed:
            raise LocalProtocolError("feed() called after close()")
        return self._detect(data)

    def _detect(
        self, data: bytes | bytearray | memoryview, *, final: bool = False
    ) -> _Framing | None:
        """Tell the framing from the first bytes; None while they cannot tell yet
        (or, with ``final``, when the stream held nothing but whitespace)."""
        head = self._head
        head += data
        bom = len(_BOM) if head.startswith(_BOM) else 0
        if not bom and head and _BOM.startswith(head) and not final:
            return None  # perhaps the start of a byte order mark
        stripped = head[bom:].lstrip()
        start = len(head) - len(stripped)
        if not stripped:
            if len(head) > self._limit:
                raise _too_large("a stream start that tells no framing", self._limit, start)
            return None
        undecided = _could_be_sse(stripped) and _SSE_START.match(stripped) is None
        if undecided and not final:
            return None
        first = stripped[0]
        if first == _OPEN_BRACE:
            name: Framing = "concatenated"
        elif first == 0x5B:
            name = "json-array"
        elif _SSE_START.match(stripped):
            name = "sse"
        elif len(stripped) < _SHOWN and not final:
            # Bytes no framing starts with: wait for a few more, so that the message
            # shows the same bytes however the stream was cut.
            return None
        else:
            error = RemoteProtocolError(
                f"cannot tell the framing from the first bytes {bytes(stripped[:_SHOWN])!r}: "
                "expected '{', '[' or a server-sent event field (data:, event:, ...)",
                offset=start,
            )
            self._error = error
            raise error
        self._framing = self._make(name)
        # Feed the framing what came so far, without the byte order mark (its offsets
        # still count from the stream's first byte).
        self._framing.skip(bom)
        self._head = head[bom:]
        return self._framing
