"""What a chat-completion request looks like on the wire: its headers and its body.

Every value that ends up in the request head is checked here, before any byte is
produced: a CRLF or LF in a header value (an API key pasted with its newline, a header
taken from user input) would end the header line early and let the rest of the value
become headers of its own (RFC 9112, section 2.2: a recipient may take a bare LF for a
line end). RFC 9110, section 5.5, calls CR, LF and NUL in a field value "invalid and
dangerous", and the other control characters invalid. Values with any of them are
refused with :class:`~purai_proto.LocalProtocolError`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any, TypeAlias
from urllib.parse import urlencode

import msgspec

from .._errors import LocalProtocolError
from .._models import ChatRequest

__all__ = [
    "DEFAULT_PATH",
    "HeadersArg",
    "QueryArg",
    "check_headers",
    "check_host",
    "check_request",
    "encode_body",
    "request_head_and_body",
    "target_with_query",
]

#: The path ``send_request`` posts to when given none: PurAI's OpenAI-model endpoint.
DEFAULT_PATH = "/openai/chat/completions"

#: Header fields a request takes: a mapping, or ``(name, value)`` pairs (so a name
#: can repeat); names and values as str or bytes.
HeadersArg: TypeAlias = Mapping[str, str | bytes] | Iterable[tuple[str | bytes, str | bytes]]
QueryArg = Mapping[str, Any] | Iterable[tuple[str, Any]]
"""Query parameters: a mapping, or ``(name, value)`` pairs."""

_ENCODER = msgspec.json.Encoder()
# CR and LF end a line (RFC 9112, section 2.2), and no control character but HTAB may
# appear in a field value (RFC 9110, section 5.5). h11 lets the others through.
_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110, section 5.6.2
_PATH = re.compile(rb"/[\x21-\x7e]*")  # origin-form, no spaces or controls
# The body's framing is this connection's business, not the caller's.
_FRAMING_FIELDS = (b"content-length", b"transfer-encoding")


def _ascii(value: str | bytes, what: str) -> bytes:
    if isinstance(value, str):
        try:
            return value.encode("ascii")
        except UnicodeEncodeError:
            raise LocalProtocolError(f"{what} is not ASCII; encode it first") from None
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    raise LocalProtocolError(f"{what} must be str or bytes, not {type(value).__name__}")


def _field_value(value: str | bytes, what: str) -> bytes:
    raw = _ascii(value, what)
    if _CONTROL.search(raw):
        # The value itself is not quoted: it may be a secret.
        raise LocalProtocolError(
            f"{what} contains CR, LF or another control character, which could inject "
            "header lines; the request was not sent"
        )
    return raw.strip(b" \t")


def _field_name(name: str | bytes) -> bytes:
    raw = _ascii(name, "a header name")
    if not _TOKEN.fullmatch(raw):
        raise LocalProtocolError(f"invalid header name {raw!r}; the request was not sent")
    return raw


def _bearer(api_key: str) -> bytes:
    return b"Bearer " + _field_value(api_key, "the API key")


def _extra_fields(headers: HeadersArg | None) -> list[tuple[bytes, bytes]]:
    """The caller's header fields, each checked."""
    if headers is None:
        return []
    items = headers.items() if isinstance(headers, Mapping) else headers
    checked = []
    for item in items:
        try:
            name, value = item
        except (TypeError, ValueError):
            raise LocalProtocolError(
                f"headers must be a mapping or (name, value) pairs, not {item!r}"
            ) from None
        raw_name = _field_name(name)
        if raw_name.lower() in _FRAMING_FIELDS:
            raise LocalProtocolError(
                f"{raw_name.decode()} is set by the connection from the body; "
                "it cannot be given in headers"
            )
        checked.append((raw_name, _field_value(value, f"the value of header {raw_name.decode()}")))
    return checked


def check_headers(api_key: str | None, headers: HeadersArg | None) -> None:
    """Check an API key and extra header fields as :meth:`ClientConnection.send_request`
    will, so that a client can refuse them before it opens a connection.

    Raises:
        LocalProtocolError: A value with CR, LF or another control character, a name or
            value that is not ASCII, or a framing header (``Content-Length``,
            ``Transfer-Encoding``).
    """
    if api_key:
        _bearer(api_key)
    _extra_fields(headers)


def check_request(request: object) -> None:
    """Refuse a request body that JSON cannot carry as given.

    msgspec writes a NaN or an infinite float as ``null``, so a bad ``temperature``
    would be dropped silently, and it cannot encode a str holding a lone surrogate
    (half of a UTF-16 pair, from a bad decode). Both are the caller's mistakes, found
    here with the place they are at.

    Raises:
        LocalProtocolError: Naming the field, e.g. ``request.messages[0].content``.
    """
    if _holds_bad(request):  # fast; the walk that names the place runs on failure only
        raise LocalProtocolError(f"invalid request: {_bad_value(request, 'request')}")


def _bad_str(value: str) -> bool:
    if value.isascii():
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _holds_bad(value: object) -> bool:
    kind = type(value)
    if kind is str:
        return _bad_str(value)  # type: ignore[arg-type]
    if kind is float:
        return not math.isfinite(value)  # type: ignore[arg-type]
    if value is None or kind is int or kind is bool:
        return False
    if isinstance(value, msgspec.Struct):
        for item in msgspec.structs.astuple(value):
            if item is not None and _holds_bad(item):
                return True
    elif isinstance(value, (list, tuple)):
        for item in value:
            if _holds_bad(item):
                return True
    elif isinstance(value, dict):
        for key, item in value.items():
            if _holds_bad(key) or _holds_bad(item):
                return True
    elif isinstance(value, str):
        return _bad_str(value)
    elif isinstance(value, float):
        return not math.isfinite(value)
    return False


def _bad_value(value: object, where: str) -> str | None:
    """What is wrong with ``value`` or anything in it, and where; None if nothing."""
    if isinstance(value, str):
        return (
            f"{where} holds a lone surrogate, which UTF-8 cannot encode"
            if _bad_str(value)
            else None
        )
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{where} is {value!r}, which JSON cannot hold"
    if isinstance(value, msgspec.Struct):
        for name in value.__struct_fields__:
            problem = _bad_value(getattr(value, name), f"{where}.{name}")
            if problem is not None:
                return problem
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            problem = _bad_value(item, f"{where}[{i}]")
            if problem is not None:
                return problem
    elif isinstance(value, dict):
        for key, item in value.items():
            problem = _bad_value(key, f"{where} key {key!r}") or _bad_value(
                item, f"{where}[{key!r}]"
            )
            if problem is not None:
                return problem
    return None


def encode_body(request: object) -> bytes:
    """The JSON body of ``request``, with its ``extra_body`` merged in.

    ``extra_body`` is a field of :class:`~purai_proto.ChatRequest` only so that it
    travels with the request; on the wire its keys join the others, and win where
    both have one. A request without it is encoded straight from the Struct, as fast
    as msgspec goes: the merge costs only the requests that use it.

    Raises:
        LocalProtocolError: A value msgspec cannot encode.
    """
    try:
        extra = getattr(request, "extra_body", None)
        if extra is None:
            return _ENCODER.encode(request)
        if not isinstance(extra, Mapping):
            raise LocalProtocolError(f"extra_body must be a mapping, not {type(extra).__name__}")
        assert isinstance(request, msgspec.Struct)
        typed = msgspec.structs.replace(request, extra_body=None)
        if not extra:
            return _ENCODER.encode(typed)
        body = msgspec.to_builtins(typed)
        body.update(extra)
        return _ENCODER.encode(body)
    except (TypeError, ValueError, msgspec.EncodeError) as exc:
        raise LocalProtocolError(f"cannot encode the request: {exc}") from None


def target_with_query(path: str, query: QueryArg | None) -> str:
    """``path`` with the query parameters ``query`` appended, percent-encoded.

    A value that is a list or tuple gives the parameter once per item.
    """
    if not query:
        return path
    try:
        pairs = query.items() if isinstance(query, Mapping) else query
        encoded = urlencode(list(pairs), doseq=True)
    except TypeError as exc:
        raise LocalProtocolError(f"invalid query parameters: {exc}") from None
    return f"{path}{'&' if '?' in path else '?'}{encoded}"


def check_host(host: str) -> bytes:
    """The ``Host`` value for ``host``, checked.

    Args:
        host: ``name`` or ``name:port``.

    Returns:
        The value as bytes.

    Raises:
        LocalProtocolError: An empty host, or one with CR, LF or another control
            character in it.
    """
    raw = _field_value(host, "the host")
    if not raw:
        raise LocalProtocolError("the host is empty")
    return raw


def request_head_and_body(
    request: ChatRequest | None,
    *,
    host: bytes,
    path: str,
    api_key: str | None,
    headers: HeadersArg | None,
    user_agent: bytes,
    query: QueryArg | None = None,
) -> tuple[bytes, list[tuple[bytes, bytes]], bytes]:
    """The target, header fields and body of ``POST path``, or of ``GET path``
    when there is no ``request``.

    Args:
        request: The request body; ``None`` for a ``GET`` (``/models``), which has
            none.
        host: The ``Host`` value, already checked.
        path: The request target, in origin form (``/path?query``).
        api_key: Sent as ``Authorization: Bearer <api_key>`` when given.
        headers: Extra header fields; one with the name of a default field replaces it.
        user_agent: The default ``User-Agent`` value.
        query: Query parameters appended to ``path``, percent-encoded.

    Returns:
        ``(target, fields, body)``.

    Raises:
        LocalProtocolError: A value with CR, LF or another control character, a header
            that is not ASCII, a
            framing header (``Content-Length``, ``Transfer-Encoding``) among
            ``headers``, a bad path, or a request msgspec cannot encode.
    """
    target = _ascii(target_with_query(path, query), "the path")
    if not _PATH.fullmatch(target):
        raise LocalProtocolError(
            f"the path must start with '/' and hold no spaces or control characters: {path!r}"
        )
    if request is not None:
        check_request(request)
        body = encode_body(request)
    else:
        body = b""
    streamed = getattr(request, "stream", None) is True
    fields: dict[bytes, tuple[bytes, bytes]] = {
        b"host": (b"Host", host),
        b"user-agent": (b"User-Agent", user_agent),
        b"accept": (
            b"Accept",
            b"text/event-stream, application/x-ndjson, application/json"
            if streamed
            else b"application/json",
        ),
        b"accept-encoding": (b"Accept-Encoding", b"gzip, deflate"),
    }
    if request is not None:
        fields[b"content-type"] = (b"Content-Type", b"application/json")
    if api_key:  # an empty key is no key: "Bearer " alone is no valid header
        fields[b"authorization"] = (b"Authorization", _bearer(api_key))
    extra: list[tuple[bytes, bytes]] = []
    for raw_name, raw_value in _extra_fields(headers):
        lower = raw_name.lower()
        if lower in fields:
            fields[lower] = (raw_name, raw_value)
        else:
            extra.append((raw_name, raw_value))
    head = [*fields.values(), *extra]
    if request is not None:  # a GET has no body, and says nothing of one
        head.append((b"Content-Length", str(len(body)).encode()))
    return target, head, body
