"""How a reply goes on the wire: its head's fields, and a streamed body, gzip or not.

With :attr:`ServerConfig.gzip <purai_transports.server.ServerConfig.gzip>` (and a
client that accepts gzip) the body is compressed as it goes, with a sync flush after
each object so that compression never holds an object back.
"""

from __future__ import annotations

import email.utils
import zlib

from purai_proto import StreamFraming, __version__

from ._connection import ServerConnection

__all__ = ["CONTENT_TYPES", "BodyWriter", "accepts_gzip", "base_headers"]

CONTENT_TYPES: dict[StreamFraming, bytes] = {
    "concatenated": b"application/json",
    "sse": b"text/event-stream; charset=utf-8",
    "ndjson": b"application/x-ndjson",
    "json-array": b"application/json",
}
_SERVER = f"purai-stand-in/{__version__}".encode()


def accepts_gzip(value: bytes | None) -> bool:
    """Whether an ``Accept-Encoding`` value allows gzip (RFC 9110, section 12.5.3)."""
    if value is None:
        return False
    weights: dict[bytes, float] = {}
    for item in value.split(b","):
        coding, *params = item.split(b";")
        weight = 1.0
        for param in params:
            key, _, number = param.partition(b"=")
            if key.strip().lower() == b"q":
                try:
                    weight = float(number)
                except ValueError:
                    weight = 0.0
        weights[coding.strip().lower()] = weight
    for coding in (b"gzip", b"x-gzip", b"*"):
        if coding in weights:
            return weights[coding] > 0
    return False


def base_headers(content_type: bytes, compressed: bool) -> list[tuple[bytes, bytes]]:
    """The fields every reply's head has, and the coding's when it is compressed."""
    headers = [
        (b"Server", _SERVER),
        (b"Date", email.utils.formatdate(usegmt=True).encode()),
        (b"Content-Type", content_type),
    ]
    if compressed:
        headers += [(b"Content-Encoding", b"gzip"), (b"Vary", b"Accept-Encoding")]
    return headers


class BodyWriter:
    """Writes a streamed body, gzip-compressed or not, one HTTP chunk per write."""

    def __init__(self, conn: ServerConnection, compressed: bool) -> None:
        self._conn = conn
        # wbits=31: the gzip container, which is what "Content-Encoding: gzip" names.
        self._compressor = zlib.compressobj(wbits=31) if compressed else None

    async def write(self, data: bytes) -> None:
        if self._compressor is not None and data:
            # A sync flush ends the deflate block, so the client can decompress every
            # byte of this object now instead of when the compressor's window fills.
            data = self._compressor.compress(data) + self._compressor.flush(zlib.Z_SYNC_FLUSH)
        await self._conn.send_data(data)

    async def end(self, trailer: bytes) -> bool:
        if self._compressor is not None:
            trailer = self._compressor.compress(trailer) + self._compressor.flush()
        await self._conn.send_data(trailer)
        return await self._conn.finish()
