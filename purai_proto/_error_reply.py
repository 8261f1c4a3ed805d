"""What a server says about an error, turned into :class:`~purai_proto.ErrorReceived`.

Error bodies come in every shape: PurAI's three JSON shapes and OpenAI's (all of which
:class:`~purai_proto.ErrorBody` decodes), JSON of some other framework's shape, the
HTML page of a proxy in front of the server (a 502 from nginx or Cloudflare), plain
text, or nothing. Whatever the shape, the caller gets one short human-readable
``message``: the server's own message when there is one, else the title or text of the
page, else the status line.
"""

from __future__ import annotations

import datetime
import re
import time

import msgspec

from ._events import ErrorReceived
from ._models import ErrorBody, ErrorDetail

__all__ = ["error_from_object", "error_from_reply", "parse_retry_after"]

_EXCERPT_CHARS = 1000  # ErrorReceived.excerpt
_MESSAGE_CHARS = 300  # a message taken from a page's text
_ERROR_BODY = msgspec.json.Decoder(ErrorBody)
_ENCODE = msgspec.json.Encoder()

# Every pattern here runs in linear time: the body comes from the server, and a
# pattern that backtracks (".*?" between two tags) would let a crafted page of
# unclosed tags cost quadratic time.
_TAG = re.compile(r"<[^<>]*>")
_SPACE = re.compile(r"\s+")
_DELAY_SECONDS = re.compile(rb"\d{1,15}(?:\.\d{1,9})?")


def _has_message(body: ErrorBody) -> bool:
    error = body.error
    if isinstance(error, ErrorDetail):
        return bool(error.message)
    return bool(error) or bool(body.message)


def _shorten(text: str, limit: int) -> str:
    text = _SPACE.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def _text_message(text: str) -> str:
    """A short message from a body that is not a JSON error object.

    From an HTML page (a proxy's 502, say), its title, else the text of its body;
    from anything else, its start.
    """
    if not text.lstrip().startswith("<"):
        return _shorten(text[: _MESSAGE_CHARS * 4], _MESSAGE_CHARS)
    lower = text.lower()
    title_tag = lower.find("<title")
    title_start = lower.find(">", title_tag) + 1 if title_tag >= 0 else 0
    title_end = lower.find("</title", title_start) if title_start else -1
    if title_end >= 0 and text[title_start:title_end].strip():
        return _shorten(text[title_start:title_end][: _MESSAGE_CHARS * 4], _MESSAGE_CHARS)
    # No title: the text of the body, skipping the head (styles, scripts).
    body_tag = lower.find("<body")
    page = text[max(body_tag, 0) :][: _MESSAGE_CHARS * 16]
    return _shorten(_TAG.sub(" ", page), _MESSAGE_CHARS)


def error_from_reply(
    status: int,
    reason: bytes,
    body: bytes,
    retry_after: float | None,
    location: bytes | None = None,
) -> ErrorReceived:
    """The event for an HTTP error reply (a status outside 2xx).

    Args:
        status: The HTTP status.
        reason: The reason phrase of the status line.
        body: The body, decoded from its content coding, or its start when it was long.
        retry_after: The delay the ``Retry-After`` header asked for, if any.
        location: The ``Location`` header, if any.

    Returns:
        The event, with the server's message found whatever the body's shape. A
        redirect's message is where it points: redirects are not followed (the
        request would go somewhere the caller did not name, with its API key), so
        what to change is the base URL.
    """
    text = body.decode("utf-8", "replace")
    decoded: ErrorBody | None = None
    if body.lstrip()[:1] == b"{":
        try:
            decoded = _ERROR_BODY.decode(body)
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
            decoded = None
    if 300 <= status < 400 and location:
        where = _shorten(location.decode("latin-1"), _MESSAGE_CHARS)
        message = f"redirected to {where} (redirects are not followed)"
    elif decoded is not None and _has_message(decoded):
        message = decoded.summary
    else:
        message = _text_message(text)
    if not message:
        message = _shorten(f"HTTP {status} {reason.decode('latin-1')}", _MESSAGE_CHARS)
    return ErrorReceived(
        status=status,
        message=message,
        body=decoded,
        retry_after=retry_after,
        excerpt=text[:_EXCERPT_CHARS],
    )


def error_from_object(body: ErrorBody, status: int, retry_after: float | None) -> ErrorReceived:
    """The event for an error object that arrived inside a stream.

    Args:
        body: The error object, as the chunk decoder produced it.
        status: The reply's HTTP status, used when the object carries no status.
        retry_after: The delay the ``Retry-After`` header asked for, if any.

    Returns:
        The event, marked ``in_stream``.
    """
    # The decoder keeps no bytes of the object; its re-encoding is as good an excerpt.
    excerpt = _ENCODE.encode(body).decode("utf-8", "replace")[:_EXCERPT_CHARS]
    return ErrorReceived(
        status=body.status if isinstance(body.status, int) else status,
        message=body.summary,
        body=body,
        retry_after=retry_after,
        excerpt=excerpt,
        in_stream=True,
    )


def parse_retry_after(value: bytes, date: bytes | None) -> float | None:
    """Seconds to wait, from a ``Retry-After`` value (RFC 9110, section 10.2.3).

    Args:
        value: The header's value: a number of seconds, or an HTTP date.
        date: The reply's ``Date`` header, the reference for an HTTP date (the
            server's clock and ours may differ); the local clock when absent.

    Returns:
        A delay of zero or more seconds, or ``None`` when the value means nothing.
    """
    value = value.strip()
    if _DELAY_SECONDS.fullmatch(value):
        return float(value)
    when = _http_date(value)
    if when is None:
        return None
    now = _http_date(date) if date is not None else None
    return max(0.0, when - (time.time() if now is None else now))


# The three HTTP date formats (RFC 9110, section 5.6.7). email.utils would parse them,
# but it imports socket, which this package must not pull in.
_TIME = rb"(\d{2}):(\d{2}):(\d{2})"
_IMF_FIXDATE = re.compile(rb"[A-Za-z]{3}, (\d{2}) ([A-Za-z]{3}) (\d{4}) " + _TIME + rb" GMT")
_RFC850_DATE = re.compile(rb"[A-Za-z]+, (\d{2})-([A-Za-z]{3})-(\d{2}) " + _TIME + rb" GMT")
_ASCTIME_DATE = re.compile(rb"[A-Za-z]{3} ([A-Za-z]{3}) ([ \d]\d) " + _TIME + rb" (\d{4})")
_MONTHS = {
    name: number
    for number, name in enumerate(
        b"jan feb mar apr may jun jul aug sep oct nov dec".split(), start=1
    )
}


def _http_date(value: bytes) -> float | None:
    """Seconds since the epoch for an HTTP date, or None if it is not one."""
    value = value.strip()
    if match := _IMF_FIXDATE.fullmatch(value):
        day, month, year, hour, minute, second = match.groups()
    elif match := _RFC850_DATE.fullmatch(value):
        day, month, year, hour, minute, second = match.groups()
        # A two-digit year: 00-69 mean 20xx, 70-99 mean 19xx. A fixed pivot, simpler
        # than RFC 9110's rule relative to today; this obsolete form is rare anyway.
        year = b"%d" % (int(year) + (2000 if int(year) < 70 else 1900))
    elif match := _ASCTIME_DATE.fullmatch(value):
        month, day, hour, minute, second, year = match.groups()
    else:
        return None
    month_number = _MONTHS.get(month.lower())
    if month_number is None:
        return None
    try:
        when = datetime.datetime(
            int(year),
            month_number,
            int(day),
            int(hour),
            int(minute),
            int(second),
            tzinfo=datetime.timezone.utc,
        )
    except ValueError:  # day 31 of February and the like
        return None
    return when.timestamp()
