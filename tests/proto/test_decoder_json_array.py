"""The JSON-array framing's guesses against bodies made to fool them, cut every way.

:class:`~purai_proto._decoding.json_array.JsonArrayFraming` guesses where elements end
(the end of the buffer, or a ``}``, comma and ``{`` where the next element starts with
the same key) and lets msgspec check. These bodies put the same patterns inside
elements and strings; each must read as ``json.loads`` reads it, fed whole, byte by
byte, at random cuts and cut in two at every offset.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from purai_proto import ChunkDecoder
from tests.helpers.splitting import all_two_piece_splits, split_ways


def decode(pieces: list[bytes]) -> list[Any]:
    decoder = ChunkDecoder(Any, "json-array")
    out: list[Any] = []
    for piece in pieces:
        out += decoder.feed(piece)
    out += decoder.close()
    return out


def element(i: int, **extra: Any) -> dict[str, Any]:
    return {"id": i, "choices": [{"delta": {"content": f"t{i}"}}], **extra}


NESTED = element(1, records=[{"id": 2, "x": {}}, {"id": 3}], more=[[{"id": 4}], [{}]])
BODIES: dict[str, list[Any]] = {
    "compact": [element(i) for i in range(5)],
    "nested-objects-with-the-same-first-key": [element(0), NESTED, element(5), NESTED],
    "boundaries-in-strings": [element(0, s='},{"id": 9}'), element(1, s="}, {"), element(2)],
    "arrays-as-elements": [[1, {"id": 2}], [{"id": 3}], element(4)],
    "empty-objects": [{}, {}, element(1), {}],
}
SEPARATORS = {"compact": ",", "lines": ",\n", "gemini": "\n,\r\n", "spaces": " , "}


def body(values: list[Any], sep: str) -> bytes:
    inner = sep.join(json.dumps(v, separators=(",", ":")) for v in values)
    return f"[{inner}]".encode()


@pytest.mark.parametrize("sep", SEPARATORS)
@pytest.mark.parametrize("name", BODIES)
def test_every_cut_reads_as_json_does(name: str, sep: str) -> None:
    data = body(BODIES[name], SEPARATORS[sep])
    want = json.loads(data)
    for how, pieces in split_ways(data):
        assert decode(pieces) == want, how
    for pieces in all_two_piece_splits(data):
        assert decode(pieces) == want, pieces


def test_one_element_per_read_separator_first_or_last() -> None:
    values = [element(i) for i in range(4)]
    texts = [json.dumps(v).encode() for v in values]
    first = [b"[" + texts[0]] + [b",\n" + t for t in texts[1:]] + [b"]"]
    last = [b"[", *(t + b"," for t in texts[:-1]), texts[-1] + b"]"]
    # Each element comes out with the read that completed it, not a read later.
    for pieces, counts in ((first, [1, 1, 1, 1, 0]), (last, [0, 1, 1, 1, 1])):
        decoder = ChunkDecoder(Any, "json-array")
        assert [len(decoder.feed(piece)) for piece in pieces] == counts
        assert decoder.done
