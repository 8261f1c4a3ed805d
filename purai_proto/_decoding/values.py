"""Typed decoding: the msgspec decoders for one target type, and error objects.

A framing finds where values are; this module says what they become. :class:`Values`
holds the decoders for one type (built once per type, see :func:`values_for`) and
hands decoded values out, with any error object a server sent in place of a chunk
(PurAI's ``{"status": 500, "error": ...}``, OpenAI's ``{"error": {...}}``) turned
into an :class:`~purai_proto.ErrorBody`.

Finding error objects must cost next to nothing on a stream that has none: for
types with ``error`` and ``status`` fields (``ChatCompletionChunk``) and for dicts,
the decoded values say it; for other types the same bytes are decoded again into a
probe, and only when they mention ``"error"`` or ``"status"`` at all.
"""

from __future__ import annotations

import functools
import typing
from typing import Any, Union

import msgspec

from .._models import ErrorBody, ErrorDetail

__all__ = [
    "ARRAY",
    "EACH",
    "MSGSPEC_ERRORS",
    "RUN",
    "Region",
    "Values",
    "error_from_payload",
    "reason",
    "values_for",
]

# msgspec raises these besides DecodeError (ValidationError is a DecodeError):
# invalid UTF-8 in a string, and nesting deeper than the interpreter's recursion limit.
MSGSPEC_ERRORS = (msgspec.DecodeError, UnicodeDecodeError, RecursionError)


def reason(exc: BaseException) -> str:
    """What an exception in ``MSGSPEC_ERRORS`` says about the bytes, for an error message."""
    if isinstance(exc, RecursionError):
        return "JSON nested too deeply"
    if isinstance(exc, UnicodeDecodeError):
        return f"invalid UTF-8 in a string ({exc.reason})"
    return f"invalid JSON value: {exc}"


# --- error objects ------------------------------------------------------------------


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

# (error, status) of a value that cannot be an error object.
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


_RAW = msgspec.json.Decoder(msgspec.Raw)
_RAWS = msgspec.json.Decoder(list[msgspec.Raw])


def _error_body(raw: msgspec.Raw, mark: tuple[Any, Any]) -> ErrorBody:
    """The ErrorBody of one error object's bytes; from its ``mark`` (what the first
    decoding found) when ErrorBody does not take its shape: still an error."""
    try:
        return _ERROR_BODY.decode(raw)
    except MSGSPEC_ERRORS:
        return _lenient_error_body(*mark)


def _mentions_errors(region: Region) -> bool:
    if isinstance(region, list):
        return any(b'"error"' in p or b'"status"' in p for p in region)
    data = bytes(region)
    return b'"error"' in data or b'"status"' in data


def error_from_payload(payload: bytes) -> ErrorBody:
    """An ErrorBody from whatever an error event carried, JSON or not."""
    try:
        return _ERROR_BODY.decode(payload)
    except MSGSPEC_ERRORS:
        return ErrorBody(message=payload.decode("utf-8", "replace")[:500])


# --- the values of one type ---------------------------------------------------------

# How a region of bytes was decoded, so that it can be decoded again as errors:
RUN = 0  # values back to back: decode_lines
ARRAY = 1  # the inside of a JSON array
EACH = 2  # a list of separate payloads (SSE events), one value each
Region = Union[bytes, bytearray, memoryview, list[bytes]]  # noqa: UP007


def _decode_again(region: Region, how: int, one: Any, many: Any) -> list[Any]:
    if how == RUN:
        return one.decode_lines(region)  # type: ignore[no-any-return]
    if how == ARRAY:
        return many.decode(b"[" + bytes(region) + b"]")  # type: ignore[arg-type,no-any-return]
    return [one.decode(payload) for payload in region]


class Values:
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
        # Whether a value of this type is always read from a JSON object or array, so
        # that bytes which decode as one such value are whole (a number may be cut
        # short: "12" of "123"). Untyped values are checked one by one instead.
        origin = typing.get_origin(type_) or type_
        self.from_containers = isinstance(origin, type) and issubclass(
            origin, (msgspec.Struct, dict, list)
        )

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
            except MSGSPEC_ERRORS:
                # One of them has a shape ErrorBody does not take ({"error": [...]}):
                # decode each on its own, so that the others come out as they would
                # in a region of their own (the same however the stream was cut).
                raws = _decode_again(region, how, _RAW, _RAWS)
                bodies = [_error_body(raw, mark) for raw, mark in zip(raws, marks, strict=True)]
            values = [
                body if flag else v for v, flag, body in zip(values, flags, bodies, strict=True)
            ]
        out += values


@functools.lru_cache(maxsize=64)
def values_for(type_: Any) -> Values:
    # Decoders are built once per type and reused by every ChunkDecoder.
    return Values(type_)
