"""What is timed: ``ChunkDecoder``, msgspec's limit, and the peers, each as a function.

Each function here builds, from bytes prepared beforehand, a function that decodes a
whole body and returns how many values it got (the measuring code checks that count,
so a fast wrong answer fails instead of scoring well). Results are dropped as they
come: what is timed is decoding, not keeping.

The peers are the usual ways to read a stream of JSON values in Python: the standard
library's ``json`` (``raw_decode`` in a loop over concatenated values), ijson
(streaming, with its C backend when it has one) and orjson (one call per object, the
boundaries given, like the limit but into dicts). ijson and orjson are optional (the
``bench`` extra); :func:`load_ijson` and :func:`load_orjson` say why one is missing.
"""

from __future__ import annotations

import importlib
import io
import json
import re
from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from purai_proto import ChatCompletionChunk, ChunkDecoder, Framing, StreamFraming

__all__ = [
    "Count",
    "array_fn",
    "chunk_decoder_fn",
    "ijson_fn",
    "json_fn",
    "load_ijson",
    "load_orjson",
    "per_object_fn",
    "raw_decode_fn",
    "sse_json_fn",
]

#: A timed function: decodes a whole body, returns how many values it got.
Count = Callable[[], int]

_WHITESPACE = re.compile(r"[ \t\r\n]*")
_BETWEEN_ELEMENTS = re.compile(r"[ \t\r\n,]*")


def per_object_fn(decode: Callable[[bytes], Any], objects: Sequence[bytes]) -> Count:
    """One decode call per object, boundaries given: with msgspec's typed decoder, the
    limit; with others, what each call costs besides finding boundaries."""

    def fn() -> int:
        n = 0
        for obj in objects:
            decode(obj)
            n += 1
        return n

    return fn


def array_fn(arrays: Sequence[bytes], type_: Any = ChatCompletionChunk) -> Count:
    """msgspec decoding JSON arrays of objects whose boundaries were given, one call each."""
    decode = msgspec.json.Decoder(list[type_]).decode

    def fn() -> int:
        return sum(len(decode(array)) for array in arrays)

    return fn


def chunk_decoder_fn(
    pieces: Sequence[bytes], framing: Framing = "concatenated", type_: Any = ChatCompletionChunk
) -> Count:
    """The project: a fresh ``ChunkDecoder`` fed every piece, then closed."""

    def fn() -> int:
        decoder = ChunkDecoder(type_, framing=framing)
        feed = decoder.feed
        n = 0
        for piece in pieces:
            n += len(feed(piece))
        return n + len(decoder.close())

    return fn


def raw_decode_fn(text: str, *, array: bool = False) -> Count:
    """The standard library's way to read concatenated JSON: ``raw_decode`` in a loop.

    With ``array``, the same loop reads the elements of one JSON array (skipping the
    brackets and commas), so that it does not build the whole list first.
    """
    raw_decode = json.JSONDecoder().raw_decode
    skip = (_BETWEEN_ELEMENTS if array else _WHITESPACE).match
    start, end = (text.index("[") + 1, text.rindex("]")) if array else (0, len(text))

    def fn() -> int:
        n = 0
        pos = skip(text, start).end()  # type: ignore[union-attr]
        while pos < end:
            _, pos = raw_decode(text, pos)
            n += 1
            pos = skip(text, pos).end()  # type: ignore[union-attr]
        return n

    return fn


def sse_json_fn(text: str) -> Count:
    """The standard library's way to read server-sent events: ``json.loads`` per
    ``data:`` line, ``[DONE]`` skipped (every event of a chat stream is one line)."""
    loads = json.loads

    def fn() -> int:
        n = 0
        for line in text.splitlines():
            if line.startswith("data:"):
                payload = line[5:].strip()
                if payload != "[DONE]":
                    loads(payload)
                    n += 1
        return n

    return fn


def json_fn(text: str, framing: StreamFraming) -> tuple[str, Count]:
    """The standard library on a body of ``framing``: its row's name and function."""
    if framing == "sse":
        return "json.loads per data: line (str)", sse_json_fn(text)
    return "json raw_decode loop (str)", raw_decode_fn(text, array=framing == "json-array")


def ijson_fn(backend: Any, data: bytes, read_size: int, *, array: bool = False) -> Count:
    """ijson, the usual streaming JSON parser, reading ``read_size`` bytes at a time:
    the values back to back, or with ``array`` the elements of one array."""
    prefix = "item" if array else ""

    def fn() -> int:
        source = io.BytesIO(data)
        items = backend.items(source, prefix, multiple_values=not array, buf_size=read_size)
        return sum(1 for _ in items)

    return fn


def load_ijson() -> tuple[Any | None, str]:
    """ijson with its C backend if it has one, and the backend's name; or None and why."""
    try:
        ijson = importlib.import_module("ijson")
    except ImportError:
        return None, "ijson not installed"
    try:
        backend = ijson.get_backend("yajl2_c")
    except ImportError:
        backend = ijson  # the fastest backend ijson found on its own
    return backend, str(getattr(backend, "backend", backend.__name__.rsplit(".", 1)[-1]))


def load_orjson() -> tuple[Any | None, str]:
    """orjson and its name, or None and why it is missing."""
    try:
        return importlib.import_module("orjson"), "orjson"
    except ImportError:
        return None, "orjson not installed"
