"""ChunkDecoder: the seed, hard strings, the types it decodes into, telling the
framings apart (``"auto"``).

Each body is fed whole, byte by byte and at random points
(:func:`tests.helpers.decoding.decode_every_way`), and the ways must agree.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from purai_proto import (
    ChatCompletion,
    ChatCompletionChunk,
    ChunkDecoder,
    ErrorBody,
    LocalProtocolError,
    RemoteProtocolError,
)
from tests.helpers.decoding import (
    chunk,
    concatenated,
    decode,
    decode_every_way,
    failure,
    feed_any,
    sse,
)
from tests.helpers.replies import SEED
from tests.helpers.splitting import all_two_piece_splits, split_ways

# --- the seed ------------------------------------------------------------------------


def test_seed_stream_gives_its_text_every_way() -> None:
    chunks = decode_every_way(SEED)
    assert "".join(c.text for c in chunks) == "AI language model."
    assert [c.provider for c in chunks] == ["Churchless"] * 4
    assert chunks[0].cache.status == 500
    assert chunks[0].cache.error.message.startswith("Some of our providers")
    assert chunks[0].usage.total_tokens == 0


def test_seed_stream_with_explicit_framing_and_as_dicts() -> None:
    chunks = decode_every_way(SEED, Any, framing="concatenated")
    assert "".join(c["choices"][0]["delta"]["content"] for c in chunks) == "AI language model."


def test_seed_split_at_every_offset() -> None:
    for pieces in all_two_piece_splits(SEED):
        assert "".join(c.text for c in decode(pieces)) == "AI language model."


def test_objects_arriving_whole_come_out_at_once() -> None:
    # A live stream delivers one object per read: each must come out on its own feed,
    # not wait for the next object to show where it ended.
    decoder = ChunkDecoder()
    for text in ["{", "}{", "a}", '"', "\\", "é", "end"]:
        [got] = decoder.feed(concatenated(chunk(text)))
        assert isinstance(got, ChatCompletionChunk)
        assert got.text == text
    assert decoder.close() == []


# --- hard strings --------------------------------------------------------------------

HARD_TEXTS = [
    "}{",
    '"}{"',
    "a}b{c",
    "{{{",
    "}}}",
    '\\"}{\\',
    "back\\slash\\",
    '"',
    "\\",
    "\\\\}{",
    "é",
    "日本語",
    "😀 surrogate pair",
    "\u2028\u2029",
    "tab\tnew\nline\r",
    "[1,2]}{[",
    "function f() { return {a: 1}; }",
    r"\frac{a}{b} \left\{ x \right\}",
]


@pytest.mark.parametrize("text", HARD_TEXTS)
@pytest.mark.parametrize("ascii_only", [False, True], ids=["utf8", "escaped"])
def test_hard_strings_split_at_every_offset(text: str, ascii_only: bool) -> None:
    objects = [chunk(text), chunk(text + text), chunk("tail")]
    data = "".join(json.dumps(o, ensure_ascii=ascii_only) for o in objects).encode()
    expected = [text, text + text, "tail"]
    assert [c.text for c in decode([data])] == expected
    for pieces in all_two_piece_splits(data):
        assert [c.text for c in decode(pieces)] == expected


def test_whitespace_between_objects_is_allowed() -> None:
    data = b"  \n" + concatenated(chunk("a"), chunk("b"), sep=" \r\n\t ") + b"\n\n"
    assert [c.text for c in decode_every_way(data)] == ["a", "b"]


def test_pretty_printed_objects() -> None:
    data = "\n".join(json.dumps(chunk(t), indent=2) for t in ["a", "}{", "c"]).encode()
    assert [c.text for c in decode_every_way(data)] == ["a", "}{", "c"]


def test_many_objects_in_one_feed_and_bytes_like_inputs() -> None:
    objects = [chunk(f"t{i} }}{{ ") for i in range(500)]
    data = concatenated(*objects)
    expected = [f"t{i} }}{{ " for i in range(500)]
    assert [c.text for c in decode([data])] == expected
    assert [c.text for c in decode([bytearray(data)])] == expected
    assert [c.text for c in decode([memoryview(data)])] == expected
    assert [c.text for c in decode_every_way(data)] == expected


def test_empty_feeds_and_empty_stream() -> None:
    decoder = ChunkDecoder()
    assert decoder.feed(b"") == []
    assert decoder.close() == []
    assert decode([b"", b"  \n", b""]) == []


# --- types ---------------------------------------------------------------------------


def test_any_type_gives_dicts_and_lists() -> None:
    data = b'{"a": [1, 2]}[3, {"b": null}]'
    assert decode_every_way(data, Any) == [{"a": [1, 2]}, [3, {"b": None}]]


def test_a_read_that_decodes_as_a_number_is_not_taken_as_whole() -> None:
    # A read that is one value is decoded as one in a single call; "12" decodes, yet
    # may be the start of "123", so it is not handed out before the stream says so.
    decoder = ChunkDecoder(int, framing="concatenated")
    assert decoder.feed(b"12") == []
    assert decoder.feed(b"3 ") == []
    assert decoder.close() == [123]
    untyped = ChunkDecoder(Any, framing="concatenated")
    got: list[Any] = untyped.feed(b'{"a": 1}')
    assert got == [{"a": 1}]
    with pytest.raises(RemoteProtocolError) as caught:
        untyped.feed(b"12")
        untyped.close()
    assert caught.value.offset == 8


def test_custom_struct_type() -> None:
    class Piece(msgspec.Struct):
        n: int

    assert decode_every_way(b'{"n": 1}{"n": 2, "other": "x"}', Piece) == [Piece(1), Piece(2)]


def test_unknown_fields_ignored_and_missing_ones_defaulted() -> None:
    [got] = decode([b'{"choices": [{"delta": {}}], "brand_new": {"x": [1]}}'])
    assert got.text == ""
    assert got.id == ""
    assert got.provider is None


def test_chat_completion_type_for_a_non_streamed_body() -> None:
    body = {"choices": [{"message": {"role": "assistant", "content": "Hi"}}], "provider": "P"}
    [got] = decode_every_way(json.dumps(body).encode(), ChatCompletion)
    assert got.text == "Hi"
    assert got.provider == "P"


def test_a_type_msgspec_cannot_decode_is_a_local_error() -> None:
    with pytest.raises(LocalProtocolError):
        ChunkDecoder(object())


def test_unknown_framing_is_a_local_error() -> None:
    with pytest.raises(LocalProtocolError, match="unknown framing"):
        ChunkDecoder(framing="xml")  # type: ignore[call-overload]


@pytest.mark.parametrize("size", [0, -1])
def test_limits_must_be_positive(size: int) -> None:
    with pytest.raises(LocalProtocolError):
        ChunkDecoder(max_object_size=size)


def test_feed_after_close_is_a_local_error() -> None:
    decoder = ChunkDecoder()
    decoder.close()
    with pytest.raises(LocalProtocolError):
        decoder.feed(b"{}")


# --- auto ----------------------------------------------------------------------------------


def test_auto_rejects_what_is_no_framing() -> None:
    out, error = failure([b"\n  <html><body>502 Bad Gateway</body></html>"])
    assert out == []
    assert error.offset == 3
    assert "<html>" in str(error)


def test_auto_waits_through_leading_whitespace() -> None:
    decoder = ChunkDecoder(Any)
    assert decoder.feed(b"  \r\n") == []
    assert feed_any(decoder, b' {"a": 1}') == [{"a": 1}]
    assert decoder.framing == "auto"


@pytest.mark.parametrize("body", [b"internal server error", b"ready", b"error: boom", b"idle"])
def test_auto_does_not_take_plain_text_for_sse(body: bytes) -> None:
    out, error = failure([body])
    assert out == []
    assert "cannot tell the framing" in str(error)
    assert error.offset == 0


@pytest.mark.parametrize("start", [b"d", b"dat", b"data", b"ev", b"i", b"ret"])
def test_auto_waits_while_the_start_could_still_be_an_sse_field(start: bytes) -> None:
    decoder = ChunkDecoder()
    assert decoder.feed(start) == []
    assert decoder.framing == "auto"


def test_byte_order_mark_is_skipped_and_offsets_count_it() -> None:
    bom = b"\xef\xbb\xbf"
    for data in (bom + SEED, bom + sse(chunk("a"), chunk("b"))):
        assert "".join(c.text for c in decode_every_way(data)) in ("AI language model.", "ab")
    assert [c.text for c in decode_every_way(bom + sse(chunk("a")), framing="sse")] == ["a"]
    out, error = failure([bom + b'{"a": 1}x{}'], Any)
    assert out == [{"a": 1}]
    assert error.offset == 3 + 8


def test_feed_of_nothing_raises_a_held_back_error() -> None:
    decoder = ChunkDecoder(Any)
    assert feed_any(decoder, b'{"a": 1}x{}') == [{"a": 1}]
    with pytest.raises(RemoteProtocolError):
        decoder.feed(b"")


def test_a_start_no_framing_has_is_reported_the_same_however_cut() -> None:
    body = b"da\xb3a: {}\n\nevent: error\n"
    errors = {str(failure(pieces)[1]) for _, pieces in split_ways(body)}
    assert len(errors) == 1
    assert "b'da\\xb3a: {}\\n\\nevent:'" in errors.pop()


@pytest.mark.parametrize("start", [b"d", b"dat", b"\xef", b"\xef\xbb"])
def test_a_stream_that_ends_before_its_framing_is_known_is_an_error(start: bytes) -> None:
    out, error = failure([start])
    assert out == []
    assert "cannot tell the framing" in str(error)


def test_error_object_of_a_shape_error_body_does_not_take() -> None:
    [chunk, error] = decode_every_way(b'{"choices": []}{"status": 503, "error": ["x", 1]}', Any)
    assert chunk == {"choices": []}
    assert isinstance(error, ErrorBody)
    assert error.status == 503
    assert error.summary == '["x",1]'
