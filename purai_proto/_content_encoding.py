"""Incremental decoding of ``Content-Encoding: gzip`` and ``deflate`` bodies, bounded.

Theory of operation
-------------------
A compressed body arrives in pieces cut anywhere, like any other; each piece goes
through a ``zlib.decompressobj``, which keeps its state between calls, and whatever
text it yields goes straight on to the chunk decoder. Nothing waits for the whole body.

The danger is a small compressed body that inflates to gigabytes (a "zip bomb"): a
kilobyte of gzip can hold a megabyte of zeros. So the total output is capped, and the
cap is enforced *while inflating*: every call asks zlib for at most one byte more than
the room left (``max_length``), so the cap is crossed by one byte at most, never by
whatever the input happens to expand to.

Two of the codings' quirks are handled here:

* ``deflate`` means the zlib format (RFC 9110, section 8.4.1.2: RFC 1950 around RFC
  1951 data), but many servers send bare RFC 1951 data under that name. The first two
  bytes tell them apart: a zlib header is a CMF byte naming method 8 with a window of
  at most 32 KiB, and a FLG byte such that ``CMF * 256 + FLG`` is a multiple of 31.
* A gzip body may hold several members back to back (RFC 1952, section 2.2); each
  member gets a fresh decompressor. Anything else after the end of the compressed data
  is an error, as is a body that ends before the compressed data does.

Several codings in one header (``Content-Encoding: deflate, gzip``) are undone in the
reverse of the order listed (RFC 9110, section 8.4).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

from ._errors import RemoteProtocolError

__all__ = ["DEFAULT_MAX_DECOMPRESSED_SIZE", "BodyDecompressor", "decompressor_for"]

#: Default cap on the decompressed size of one response body.
DEFAULT_MAX_DECOMPRESSED_SIZE = 64 * 1024 * 1024

_GZIP_WBITS = 16 + zlib.MAX_WBITS  # gzip header and trailer
_ZLIB_WBITS = zlib.MAX_WBITS  # zlib header and trailer (RFC 1950)
_RAW_WBITS = -zlib.MAX_WBITS  # bare deflate data (RFC 1951)
_GZIP_MAGIC = b"\x1f\x8b"
_IDENTITY = (b"identity", b"")


def _is_zlib_header(cmf: int, flg: int) -> bool:
    """True when two bytes are a valid RFC 1950 header (method 8, window <= 32 KiB)."""
    return cmf & 0x0F == 8 and cmf >> 4 <= 7 and (cmf * 256 + flg) % 31 == 0


class _Stage:
    """One coding: compressed bytes in, decompressed bytes out.

    When the data goes bad, the bytes decompressed before the problem are returned
    and the error is raised by the next call, so that the chunks they complete are
    not lost however the body was cut.
    """

    def __init__(self, coding: str) -> None:
        self.coding = coding
        self._gzip = coding == "gzip"
        # For deflate the wrapper is unknown until two bytes have arrived.
        self._inflater: zlib._Decompress | None = (
            zlib.decompressobj(_GZIP_WBITS) if self._gzip else None
        )
        self._head = b""  # deflate: the first byte, while waiting for the second
        self._consumed = 0  # compressed bytes taken in
        self._error: RemoteProtocolError | None = None

    def feed(self, data: bytes | bytearray, limit: int) -> bytes:
        """Decompress ``data``, returning at most ``limit + 1`` bytes.

        Asking zlib for one byte past the limit tells the caller that the limit was
        crossed, without ever inflating much past it.
        """
        if self._error is not None:
            raise self._error
        if not data:
            return b""
        self._consumed += len(data)
        inflater = self._inflater
        if inflater is None:
            head = self._head + data
            if len(head) < 2:
                self._head = bytes(head)
                return b""
            self._head = b""
            wbits = _ZLIB_WBITS if _is_zlib_header(head[0], head[1]) else _RAW_WBITS
            inflater = self._inflater = zlib.decompressobj(wbits)
            data = head
        out: list[bytes] = []
        room = limit
        try:
            while data:
                if inflater.eof:  # a new gzip member, or bytes that should not be there
                    inflater = self._next_member(data, self._consumed - len(data))
                piece = inflater.decompress(data, room + 1)
                out.append(piece)
                room -= len(piece)
                if room < 0:
                    break  # over the limit: the caller raises
                data = inflater.unused_data if inflater.eof else inflater.unconsumed_tail
        except zlib.error as exc:
            self._error = RemoteProtocolError(f"invalid {self.coding} data: {exc}")
        except RemoteProtocolError as exc:
            self._error = exc
        if self._error is not None and not any(out):
            raise self._error
        return out[0] if len(out) == 1 else b"".join(out)

    def _next_member(self, rest: bytes | bytearray, offset: int) -> zlib._Decompress:
        # RFC 1952, section 2.2: a gzip file is a series of members.
        if self._gzip and rest[:2] == _GZIP_MAGIC[: len(rest)]:
            self._inflater = zlib.decompressobj(_GZIP_WBITS)
            return self._inflater
        raise RemoteProtocolError(
            f"bytes after the end of the {self.coding} data (in the compressed body)",
            offset=offset,
        )

    def finish(self) -> None:
        if self._error is not None:
            raise self._error
        if not self._consumed:
            return  # an empty body is a valid empty body, compressed or not
        if self._inflater is None or not self._inflater.eof:
            raise RemoteProtocolError(
                f"the body ended inside the {self.coding} data, after {self._consumed} "
                "compressed bytes"
            )


class BodyDecompressor:
    """Undoes a response's content codings as its body arrives, within a size cap.

    Args:
        codings: The codings as listed in ``Content-Encoding``, in the order the server
            applied them (each ``"gzip"`` or ``"deflate"``).
        max_size: The most decompressed bytes accepted for the whole body.
    """

    def __init__(self, codings: list[str], max_size: int) -> None:
        # Undo the last coding applied first.
        self._stages = [_Stage(coding) for coding in reversed(codings)]
        self._max_size = max_size
        self._produced = 0
        self._error: RemoteProtocolError | None = None

    def decompress(self, data: bytes | bytearray) -> bytes:
        """Decompress the next piece of the body.

        Args:
            data: Compressed bytes, cut anywhere (``b""`` only raises a pending error).

        Returns:
            The decompressed bytes they completed (possibly none).

        Raises:
            RemoteProtocolError: The data is not valid for its coding, or the body
                inflates past ``max_size``. The bytes decompressed before the problem
                are returned first; the error is raised by the next call.
        """
        if self._error is not None:
            raise self._error
        out: bytes | bytearray = data
        room = self._max_size - self._produced
        for stage in self._stages:
            out = stage.feed(out, room)
            # Checked after every stage: an inner coding could itself be a bomb.
            if len(out) > room:
                self._error = RemoteProtocolError(
                    f"the body inflates past {self._max_size} bytes "
                    "(max_decompressed_size); refusing to decompress it further"
                )
                out = out[:room]
                if not out:
                    raise self._error
        self._produced += len(out)
        return bytes(out)

    def finish(self) -> None:
        """Check that the body did not end inside the compressed data.

        Raises:
            RemoteProtocolError: The compressed data was cut short, or an error is
                still pending.
        """
        if self._error is not None:
            raise self._error
        for stage in self._stages:
            stage.finish()


def decompressor_for(header_values: Sequence[bytes], max_size: int) -> BodyDecompressor | None:
    """A decompressor for the codings named by ``Content-Encoding`` header values.

    Args:
        header_values: The values of every ``Content-Encoding`` field of the response.
        max_size: The most decompressed bytes accepted for the whole body.

    Returns:
        A decompressor, or ``None`` when the body is not encoded (no codings, or only
        ``identity``).

    Raises:
        RemoteProtocolError: A coding other than gzip, deflate or identity (the
            request offered only those two, RFC 9110 section 12.5.3).
    """
    codings: list[str] = []
    for value in header_values:
        for item in value.split(b","):
            name = item.strip().lower()
            if name in _IDENTITY:
                continue
            if name in (b"gzip", b"x-gzip"):
                codings.append("gzip")
            elif name == b"deflate":
                codings.append("deflate")
            else:
                raise RemoteProtocolError(
                    f"unsupported Content-Encoding {name.decode('latin-1')!r}: "
                    "the request offered only gzip and deflate"
                )
    return BodyDecompressor(codings, max_size) if codings else None
