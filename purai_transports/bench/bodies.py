"""A body to benchmark: its bytes, its framing, and where each object lies in it.

The limit (msgspec decoding each object when someone has found its boundaries for
free) and some peers need the objects one by one. For a captured body they are found
once, before anything is timed, by :class:`~purai_proto.ChunkDecoder` decoding into
:class:`msgspec.Raw`: each value's own bytes, exactly as they were captured.

The framing is told the way ``framing="auto"`` tells it, from the first byte that is
not whitespace (``{``, ``[``, else server-sent events), and ``{...}`` streams with
exactly one object a line are called NDJSON, which ``auto`` reads as concatenated.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from purai_proto import ChunkDecoder, ErrorBody, StreamFraming

__all__ = ["Body", "NotBenchmarkable", "cut"]

_BOM = b"\xef\xbb\xbf"


class NotBenchmarkable(Exception):
    """A body with nothing to time: empty, or carrying an error object."""


@dataclass(frozen=True)
class Body:
    """The bytes of one streamed reply, and each object's bytes within it."""

    name: str
    framing: StreamFraming
    data: bytes
    objects: list[bytes]

    @classmethod
    def captured(cls, name: str, data: bytes) -> Body:
        """A captured body: its framing told and its objects found.

        Raises:
            purai_proto.RemoteProtocolError: ``data`` is not a stream in any framing.
            NotBenchmarkable: it holds no object, or an error object.
        """
        decoder = ChunkDecoder(msgspec.Raw)
        objects = []
        for value in decoder.feed(data) + decoder.close():
            if isinstance(value, ErrorBody):
                raise NotBenchmarkable(f"{name} carries an error object: {value.summary}")
            objects.append(bytes(value))
        if not objects:
            raise NotBenchmarkable(f"{name} holds no object")
        return cls(name, _framing(data, len(objects)), data, objects)

    @property
    def text(self) -> str:
        """The body as text, for the peers that read ``str``."""
        return self.data.decode("utf-8-sig")


def _framing(data: bytes, objects: int) -> StreamFraming:
    stripped = data.removeprefix(_BOM).lstrip()
    if stripped.startswith(b"["):
        return "json-array"
    if not stripped.startswith(b"{"):
        return "sse"
    lines = sum(1 for line in stripped.splitlines() if line.strip())
    return "ndjson" if lines == objects > 1 else "concatenated"


def cut(data: bytes, size: int) -> list[bytes]:
    """``data`` in pieces of ``size`` bytes, as ``recv(size)`` returns it from a fast sender.

    Pieces are cut before timing: slicing is the transport's work, not the decoder's.
    """
    return [data[i : i + size] for i in range(0, len(data), size)]
