"""Header fields as h11 reads them, for a parser that reads them with llhttp.

llhttp hands over a field's name as sent and its value with trailing whitespace kept,
and lets through some framing fields that h11 refuses. :func:`check_fields` gives a
head's (or a trailer section's) fields the shape h11 gives them and refuses what h11
refuses, so that both parsers return the same head for the same bytes.
"""

from __future__ import annotations

from .parser import ParseError

__all__ = ["check_fields"]

_MAX_LENGTH_DIGITS = 20  # as h11's CONTENT_LENGTH_MAX_DIGITS


def check_fields(
    raw: list[tuple[bytes, bytes]],
) -> tuple[list[tuple[bytes, bytes]], bool, int | None, bool]:
    """A head's or a trailer section's fields as h11 gives them, checked as h11 does.

    Returns:
        The fields (names lowercased, values stripped), whether Transfer-Encoding
        says chunked, the Content-Length, and whether Connection says close.

    Raises:
        ParseError: A field h11 refuses and llhttp does not.
    """
    chunked = close = False
    length: int | None = None
    fields = []
    for raw_name, raw_value in raw:
        name = raw_name.lower()
        # llhttp strips the whitespace before a value, not after (RFC 9110, 5.5).
        value = raw_value.rstrip(b" \t")
        if name == b"transfer-encoding":
            # Only "chunked", once (h11's rule; RFC 9112, section 6.1 allows more).
            if chunked:
                raise ParseError("multiple Transfer-Encoding headers")
            value = value.lower()
            if value != b"chunked":
                raise ParseError("Only Transfer-Encoding: chunked is supported")
            chunked = True
        elif name == b"content-length":
            # llhttp refuses anything but digits, a second one, one with chunked, and
            # a value over 2**64 - 1; h11 also refuses more than 20 digits.
            if not value.isdigit() or len(value) > _MAX_LENGTH_DIGITS:
                raise ParseError(f"bad Content-Length {value!r}")
            length = int(value)
        elif name == b"connection" and b"close" in _tokens(value):
            close = True
        fields.append((name, value))
    return fields, chunked, length, close


def _tokens(value: bytes) -> list[bytes]:
    """A comma-separated list field's members, lowercased (RFC 9110, section 5.6.1)."""
    return [token.strip(b" \t") for token in value.lower().split(b",")]
