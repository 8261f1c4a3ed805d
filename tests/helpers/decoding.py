"""Feeding a :class:`~purai_proto.ChunkDecoder` every way, and the bodies its tests feed.

Every decoder test feeds its bytes whole, byte by byte and cut at random points
(:func:`decode_every_way`), and the ways must agree.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest

from purai_proto import ChatCompletionChunk, ChunkDecoder, RemoteProtocolError

from .splitting import split_ways

__all__ = [
    "chunk",
    "concatenated",
    "decode",
    "decode_every_way",
    "failure",
    "feed_any",
    "sse",
]


def decode(
    pieces: Sequence[bytes | bytearray | memoryview],
    type_: Any = ChatCompletionChunk,
    **options: Any,
) -> list[Any]:
    """Feed ``pieces`` one by one, then close; return everything decoded."""
    decoder = ChunkDecoder(type_, **options)
    out: list[Any] = []
    for piece in pieces:
        out += decoder.feed(piece)
    out += decoder.close()
    return out


def decode_every_way(data: bytes, type_: Any = ChatCompletionChunk, **options: Any) -> list[Any]:
    """Decode ``data`` fed every way; assert all ways agree; return the result."""
    results = {name: decode(pieces, type_, **options) for name, pieces in split_ways(data)}
    whole = results.pop("whole")
    for name, result in results.items():
        assert result == whole, name
    return whole


def failure(pieces: list[bytes], type_: Any = Any, **options: Any) -> tuple[list[Any], Any]:
    """Feed until the decoder raises; return what came out before, and the error."""
    decoder = ChunkDecoder(type_, **options)
    out: list[Any] = []
    with pytest.raises(RemoteProtocolError) as info:
        for piece in pieces:
            out += decoder.feed(piece)
        out += decoder.close()
    return out, info.value


def chunk(text: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": "gpt-3.5-turbo-0301",
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}],
        "provider": "Churchless",
        "overwritten": False,
        **extra,
    }


def concatenated(*objects: Any, sep: str = "") -> bytes:
    return sep.join(json.dumps(o, ensure_ascii=False) for o in objects).encode()


def feed_any(decoder: ChunkDecoder[Any], data: bytes) -> list[Any]:
    """``decoder.feed(data)``, typed as plain values (``Any`` decoders give dicts)."""
    return decoder.feed(data)


def sse(*payloads: Any, end: str = "\n") -> bytes:
    return "".join(
        f"data: {p if isinstance(p, str) else json.dumps(p)}{end}{end}" for p in payloads
    ).encode()
