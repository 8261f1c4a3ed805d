"""Properties of ChunkDecoder checked on generated streams (hypothesis).

1. Any split of a valid stream gives the same values as feeding it whole, and those
   are the values that were encoded.
2. Any input, valid or not, either decodes or raises RemoteProtocolError; never
   another exception. Fed whole or in pieces, it gives the same answer.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import msgspec
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from purai_proto import ChatCompletionChunk, ChunkDecoder, ErrorBody, Framing, RemoteProtocolError

# Text that stresses framing: brackets, quotes, backslashes, escapes, and characters
# whose UTF-8 or \u-escaped forms are several bytes long (a surrogate pair too).
tricky_text = st.text(
    alphabet=st.sampled_from(list('{}[]":,\\ /\n\t\ra1 é日😀\u2028\x00'))
    | st.characters(exclude_categories=["Cs"]),
    max_size=30,
)
finite_floats = st.floats(allow_nan=False, allow_infinity=False)
json_scalars = st.none() | st.booleans() | st.integers() | finite_floats | tricky_text
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(tricky_text, inner, max_size=4),
    max_leaves=12,
)
json_objects = st.dictionaries(tricky_text, json_values, max_size=5).filter(
    # Objects with these keys are error objects, which come out as ErrorBody.
    lambda d: d.get("error") is None and not isinstance(d.get("status"), int)
)
whitespace = st.text(alphabet=" \t\r\n", max_size=3)


def encode(value: Any, ascii_only: bool) -> str:
    return json.dumps(value, ensure_ascii=ascii_only)


@st.composite
def streams(draw: st.DrawFn) -> tuple[str, bytes, list[Any]]:
    """A framing, a body in that framing, and the values it holds."""
    framing = draw(st.sampled_from(["concatenated", "ndjson", "sse", "json-array"]))
    values = draw(st.lists(json_objects | st.lists(json_values, max_size=3), max_size=6))
    ascii_only = draw(st.booleans())
    texts = [encode(v, ascii_only) for v in values]
    if framing == "concatenated":
        body = draw(whitespace) + "".join(t + draw(whitespace) for t in texts)
    elif framing == "ndjson":
        body = "".join(t + "\n" for t in texts)
    elif framing == "json-array":
        body = "[" + ",".join(draw(whitespace) + t + draw(whitespace) for t in texts) + "]"
    else:
        end = draw(st.sampled_from(["\n", "\r", "\r\n"]))
        space = draw(st.sampled_from(["", " "]))
        lines = []
        for text in texts:
            if draw(st.booleans()):
                lines.append(": keep-alive" + end)
            # json.dumps output has no raw line ends, so each value is one data line.
            lines.append(f"data:{space}{text}{end}{end}")
        if draw(st.booleans()):
            lines.append(f"data: [DONE]{end}{end}")
        body = "".join(lines)
    return framing, body.encode(), values


def pieces_at(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


def run(pieces: list[bytes], framing: Framing, type_: Any = Any) -> tuple[list[Any], str | None]:
    """Values out, and the error's text if the decoder raised (nothing else may)."""
    decoder = ChunkDecoder(type_, framing=framing, max_object_size=4096, max_buffer_size=8192)
    out: list[Any] = []
    try:
        for piece in pieces:
            out += decoder.feed(piece)
        out += decoder.close()
    except RemoteProtocolError as exc:
        return out, str(exc)
    return out, None


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(streams(), st.lists(st.integers(min_value=0), max_size=20), st.booleans())
def test_any_split_of_a_valid_stream_gives_its_values(
    stream: tuple[Framing, bytes, list[Any]], cuts: list[int], auto: bool
) -> None:
    framing, data, values = stream
    # "auto" tells the framing from the first byte, so a stream of values whose first
    # one is an array reads as a JSON-array stream: only use it where that holds.
    first = data.lstrip()[:1]
    if auto and (first == b"{" or (first and framing in ("sse", "json-array"))):
        framing = "auto"
    whole, whole_error = run([data], framing)
    assert whole_error is None
    assert whole == values
    split, split_error = run(pieces_at(data, cuts), framing)
    assert split_error is None
    assert split == values
    bytewise, bytewise_error = run([data[i : i + 1] for i in range(len(data))], framing)
    assert bytewise_error is None
    assert bytewise == values


@st.composite
def damaged_streams(draw: st.DrawFn) -> tuple[str, bytes]:
    """Valid streams with bytes flipped, inserted, removed or cut off, and noise."""
    framing, data, _ = draw(streams())
    if draw(st.integers(0, 9)) == 0:
        return framing, draw(st.binary(max_size=200))
    damaged = bytearray(data)
    for _ in range(draw(st.integers(1, 3))):
        if not damaged:
            break
        where = draw(st.integers(0, len(damaged) - 1))
        how = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        if how == "flip":
            damaged[where] = draw(st.sampled_from(list(b'{}[]"\\,: \n\xff\xc3x0')))
        elif how == "insert":
            damaged[where:where] = draw(st.sampled_from([b"}{", b'"', b"\\", b"\xe6\x97", b"]"]))
        elif how == "delete":
            del damaged[where]
        else:
            del damaged[where:]
    return framing, bytes(damaged)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(damaged_streams(), st.lists(st.integers(min_value=0), max_size=10))
@example(("concatenated", b'{"a":"}{"}{"b":1}x'), [3, 9])
@example(("sse", b"data: {}\r"), [8])
@example(("concatenated", b'{"a":[' * 50 + b"1"), [10])
def test_damaged_input_decodes_or_raises_the_same_way_however_split(
    stream: tuple[Framing, bytes], cuts: list[int]
) -> None:
    framing, data = stream
    for type_ in (Any, ChatCompletionChunk):
        whole, whole_error = run([data], framing, type_)
        split, split_error = run(pieces_at(data, cuts), framing, type_)
        assert (whole_error is None) == (split_error is None), (whole_error, split_error)
        if whole_error is None:
            assert _plain(whole) == _plain(split)
        else:
            assert whole_error == split_error
            # Values found before the problem are a prefix of the same values.
            shorter, longer = sorted([whole, split], key=len)
            assert _plain(shorter) == _plain(longer)[: len(shorter)]


def _plain(values: list[Any]) -> list[Any]:
    return [
        msgspec.to_builtins(v) if isinstance(v, msgspec.Struct | ErrorBody) else v for v in values
    ]
