"""What every framing shares: the base class, the size-limit error, decoding at spans.

A framing turns the bytes of one body layout into decoded values; the
:class:`~purai_proto.ChunkDecoder` picks one (or tells it from the first bytes) and
hands it every byte. Offsets here are *stream* offsets, counted from the body's first
byte, so that an error says where in the stream it is whatever the framing dropped.
"""

from __future__ import annotations

import re
from typing import Any

from .._errors import RemoteProtocolError
from .values import ARRAY, MSGSPEC_ERRORS, RUN, Values, reason

__all__ = [
    "BOM",
    "CLOSERS",
    "OBJECT_START",
    "WHITESPACE",
    "BaseFraming",
    "decode_spans",
    "too_large",
]

BOM = b"\xef\xbb\xbf"  # UTF-8's byte order mark, which some servers put first
WHITESPACE = frozenset(b" \t\r\n")  # JSON's
CLOSERS = frozenset(b"}]")
# What follows the "{" of a value's start: a key and its colon, or "}", or the end of
# the data so far. A "}{" inside a string is almost never followed by that, because a
# quote there would end the string: this rules most of them out before msgspec is
# asked. (Keys with escapes fail the test too; the exact scanner copes with those.)
OBJECT_START = re.compile(rb'\{[ \t\r\n]*(?:"[^"\\]*(?:"[ \t\r\n]*(?::|$)|$)|\}|$)')


def too_large(what: str, limit: int, offset: int) -> RemoteProtocolError:
    # The message names the limit, not how far past it the data got: that depends on
    # how the stream was cut, and the same bytes must give the same error however cut.
    return RemoteProtocolError(
        f"{what} larger than the size limit ({limit} bytes: the smaller of "
        "max_object_size and max_buffer_size)",
        offset=offset,
    )


class BaseFraming:
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


def decode_spans(
    values: Values,
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
            decode_spans(values, limit, buf, base, spans[:i], out, array=array)
            raise too_large("a value", limit, start)
    if not spans:
        return
    first, last = spans[0][0] - base, spans[-1][1] - base
    region = bytes(memoryview(buf)[first:last])
    try:
        if array:
            decoded = values.many.decode(b"[" + region + b"]")
        else:
            decoded = values.one.decode_lines(region)
    except MSGSPEC_ERRORS:
        pass
    else:
        values.emit(decoded, region, ARRAY if array else RUN, out)
        return
    # Some value is bad: decode them one by one to say which.
    for i, (start, stop) in enumerate(spans):
        try:
            values.one.decode(memoryview(buf)[start - base : stop - base])
        except MSGSPEC_ERRORS as exc:
            decode_spans(values, limit, buf, base, spans[:i], out, array=array)
            raise RemoteProtocolError(reason(exc), offset=start) from None
    raise AssertionError("a run of values failed to decode, yet each one decodes")
