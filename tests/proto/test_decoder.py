"""ChunkDecoder: every framing, fed whole, byte by byte and at random points."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import msgspec
import pytest

from purai_proto import (
    ChatCompletion,
    ChatCompletionChunk,
    ChunkDecoder,
    ErrorBody,
    ErrorDetail,
    LocalProtocolError,
    RemoteProtocolError,
)
from tests.helpers.paths import SEED_STREAM
from tests.helpers.splitting import all_two_piece_splits, split_ways

SEED = SEED_STREAM.read_bytes()


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


# --- error objects inside the stream --------------------------------------------------

ERROR_SHAPES = [
    ({"status": 503, "error": "Model is not available at the moment."}, 503),
    ({"status": 500, "error": {"message": "All of our providers failed", "records": []}}, 500),
    ({"status": 500, "message": "All of our providers failed", "records": []}, 500),
    ({"error": {"message": "Slow down", "type": "rate_limit", "param": None, "code": 429}}, None),
]


@pytest.mark.parametrize(("body", "status"), ERROR_SHAPES)
@pytest.mark.parametrize("type_", [ChatCompletionChunk, Any], ids=["chunk", "any"])
def test_error_object_after_chunks_is_an_error_body(
    body: dict[str, Any], status: int | None, type_: Any
) -> None:
    data = concatenated(chunk("one"), chunk("two"), body)
    *chunks, error = decode_every_way(data, type_)
    assert len(chunks) == 2
    assert isinstance(error, ErrorBody)
    assert error.status == status
    assert error.summary in {"Model is not available at the moment.", *_messages(body)}


def _messages(body: dict[str, Any]) -> set[str]:
    error = body.get("error")
    return {error["message"]} if isinstance(error, dict) else {body.get("message", "")}


def test_error_object_with_a_custom_type_is_found_by_probing() -> None:
    class Piece(msgspec.Struct):
        n: int = 0

    out = decode_every_way(b'{"n": 1}{"status": 429, "error": "slow down"}{"n": 2}', Piece)
    assert out[0] == Piece(1)
    assert isinstance(out[1], ErrorBody)
    assert out[1].summary == "slow down"
    assert out[2] == Piece(2)


def test_purai_cache_report_is_not_an_error() -> None:
    # Every PurAI chunk carries {"cache": {"status": 500, "error": {...}}}: that is a
    # log of failed providers inside a good chunk, not an error object.
    for type_ in (ChatCompletionChunk, Any):
        chunks = decode([SEED], type_)
        assert not any(isinstance(c, ErrorBody) for c in chunks)


def test_null_error_field_is_not_an_error() -> None:
    [got] = decode([concatenated(chunk("x", error=None))])
    assert got.text == "x"


# --- broken streams --------------------------------------------------------------------


def test_stream_ending_inside_an_object_raises_with_offset() -> None:
    data = concatenated(chunk("a"), chunk("b"))
    first_length = len(concatenated(chunk("a")))
    for cut in range(first_length + 1, len(data)):
        for name, pieces in split_ways(data[:cut], seeds=1):
            out, error = failure(pieces, ChatCompletionChunk)
            assert [c.text for c in out] == ["a"], name
            assert error.offset == first_length, name
            assert "ended inside a value" in str(error)


@pytest.mark.parametrize(
    ("data", "good", "offset"),
    [
        (b'{"a": 1}x{"b": 2}', 1, 8),
        (b'{"a": 1} , {"b": 2}', 1, 9),
        (b'{"a": 1}{"b": tru}{"c": 3}', 1, 8),
        (b'{"a": 1}{"b": "\\x"}', 1, 8),
        (b'{"a": 1}{"b": 1]', 1, 8),
        (b'{"a": 1}"str"', 1, 8),
        (b'{"a": 1}{"b" 2}{"c": 3}', 1, 8),
        (b'{"a": 1}{"b": "\xff\xfe"}', 1, 8),
        (b'{"a": 1}{"b": "\xed\xa0\x80"}', 1, 8),
        (b'{"a": 1}42', 1, 8),
    ],
)
def test_malformed_streams_raise_with_offset_after_the_good_objects(
    data: bytes, good: int, offset: int
) -> None:
    for name, pieces in split_ways(data):
        out, error = failure(pieces, Any, framing="concatenated")
        # Values before the problem come out of feed() when feed() finds it; when
        # only close() can, the broken stream's tail is not returned.
        assert out == decode([data[: good_end(data)]], Any)[: len(out)], name
        assert len(out) <= good, name
        assert error.offset == offset, name


def feed_any(decoder: ChunkDecoder[Any], data: bytes) -> list[Any]:
    """``decoder.feed(data)``, typed as plain values (``Any`` decoders give dicts)."""
    return decoder.feed(data)


def good_end(data: bytes) -> int:
    return data.index(b"}") + 1


def test_error_is_raised_again_by_later_calls() -> None:
    decoder = ChunkDecoder(Any)
    assert feed_any(decoder, b'{"a": 1}x{}') == [{"a": 1}]
    with pytest.raises(RemoteProtocolError) as first:
        decoder.feed(b"{}")
    with pytest.raises(RemoteProtocolError) as again:
        decoder.close()
    assert again.value is first.value
    assert first.value.offset == 8


def test_validation_error_is_a_remote_protocol_error() -> None:
    out, error = failure([concatenated(chunk("a"), {"choices": 5})], ChatCompletionChunk)
    assert [c.text for c in out] == ["a"]
    assert "invalid JSON value" in error.reason
    assert "choices" in error.reason


def test_deep_nesting_is_an_error_not_a_recursion_error() -> None:
    deep = b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    out, error = failure([b"{}", deep], Any)
    assert out == [{}]
    assert "nested too deeply" in error.reason
    assert error.offset == 2


def test_invalid_utf8_is_an_error_with_offset() -> None:
    out, error = failure([b'{"a": "ok"}{"b": "\xc3"}'], Any)
    assert out == [{"a": "ok"}]
    assert "UTF-8" in error.reason
    assert error.offset == 11


# --- limits ----------------------------------------------------------------------------


def test_object_larger_than_the_limit_raises_even_when_complete() -> None:
    small = concatenated(chunk("ok"))
    big = concatenated(chunk("x" * 5000))
    for name, pieces in split_ways(small + big + small, seeds=1):
        out, error = failure(pieces, ChatCompletionChunk, max_object_size=2000)
        assert [c.text for c in out] == ["ok"], name
        assert error.offset == len(small), name
        assert "max_object_size" in str(error)


def test_object_that_never_ends_is_bounded() -> None:
    decoder = ChunkDecoder(Any, max_object_size=10_000)
    decoder.feed(b'{"a": "')
    with pytest.raises(RemoteProtocolError, match="larger than the size limit"):
        for _ in range(1000):
            decoder.feed(b"x" * 100)


def test_buffer_limit() -> None:
    decoder = ChunkDecoder(Any, max_buffer_size=1000)
    with pytest.raises(RemoteProtocolError, match="size limit \\(1000 bytes"):
        decoder.feed(b'{"a": [' + b"1," * 497)


def test_endless_whitespace_does_not_accumulate() -> None:
    decoder = ChunkDecoder(Any, framing="concatenated", max_buffer_size=100)
    for _ in range(1000):
        assert decoder.feed(b" \n" * 30) == []
    assert feed_any(decoder, b'{"a": 1}') == [{"a": 1}]


def test_large_object_in_small_pieces_is_linear_work(monkeypatch: pytest.MonkeyPatch) -> None:
    # A multi-megabyte value fed in small pieces must not be re-read on every feed.
    # Count the bytes handed to msgspec, which is where re-reading would show.
    read = 0
    real = msgspec.json.Decoder.decode_lines

    class Counting:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def decode_lines(self, data: bytes) -> Any:
            nonlocal read
            read += len(data)
            return real(self.inner, data)

        def decode(self, data: Any) -> Any:
            nonlocal read
            read += len(data)
            return self.inner.decode(data)

    items = ",".join(f'{{"k": "{i} }}{{ "}}' for i in range(60_000))
    big = f'{{"items": [{items}]}}'.encode()
    data = big + concatenated({"b": 1}) + big
    decoder = ChunkDecoder(Any)
    monkeypatch.setattr(decoder._values, "one", Counting(decoder._values.one))
    out: list[Any] = []
    for i in range(0, len(data), 1000):
        out += decoder.feed(data[i : i + 1000])
    out += decoder.close()
    assert [len(o) for o in out] == [1, 1, 1]
    assert read < 4 * len(data)


# --- SSE -------------------------------------------------------------------------------


def sse(*payloads: Any, end: str = "\n") -> bytes:
    return "".join(
        f"data: {p if isinstance(p, str) else json.dumps(p)}{end}{end}" for p in payloads
    ).encode()


@pytest.mark.parametrize("end", ["\n", "\r", "\r\n"], ids=["lf", "cr", "crlf"])
def test_sse_line_ends(end: str) -> None:
    data = sse(chunk("a"), chunk("}{"), "[DONE]", end=end)
    chunks = decode_every_way(data, framing="sse")
    assert [c.text for c in chunks] == ["a", "}{"]
    chunks = decode_every_way(data)  # auto
    assert [c.text for c in chunks] == ["a", "}{"]


def test_sse_comments_no_space_multiline_data_and_unknown_fields() -> None:
    data = (
        b": keep-alive\n\n"
        b"id: 1\nretry: 100\nfoo: bar\n"
        b'data:{"choices": [{"delta":\n'
        b'data: {"content": "multi"}}]}\n\n'
        b":another comment\n"
        b'data: {"choices": [{"delta": {"content": "x"}}]}\n\n'
        b"data: [DONE]\n\n"
    )
    decoder_out = decode_every_way(data)
    assert [c.text for c in decoder_out] == ["multi", "x"]


def test_sse_done_flag_and_data_after_done() -> None:
    decoder = ChunkDecoder(framing="sse")
    decoder.feed(sse(chunk("a")))
    assert not decoder.done
    decoder.feed(b"data: [DONE]\n\n: bye\n\n")
    assert decoder.done
    with pytest.raises(RemoteProtocolError, match="after 'data: \\[DONE\\]'"):
        decoder.feed(sse(chunk("late")))


def test_sse_error_event() -> None:
    data = sse(chunk("a")) + b'event: error\ndata: {"error": {"message": "overloaded"}}\n\n'
    first, error = decode_every_way(data)
    assert first.text == "a"
    assert isinstance(error, ErrorBody)
    assert isinstance(error.error, ErrorDetail)
    assert error.summary == "overloaded"


def test_sse_error_event_with_text_payload() -> None:
    [error] = decode_every_way(b"event: error\ndata: upstream timed out\n\n", framing="sse")
    assert isinstance(error, ErrorBody)
    assert error.summary == "upstream timed out"


def test_sse_error_object_without_event_name() -> None:
    data = sse(chunk("a"), {"error": {"message": "bad", "type": "server_error"}})
    first, error = decode_every_way(data)
    assert first.text == "a"
    assert isinstance(error, ErrorBody)
    assert error.summary == "bad"


def test_sse_last_event_without_blank_line_is_kept() -> None:
    data = b'data: {"choices": [{"delta": {"content": "last"}}]}'
    assert [c.text for c in decode_every_way(data, framing="sse")] == ["last"]


def test_sse_bad_payload_raises_with_offset() -> None:
    data = sse(chunk("a")) + b"data: {nope}\n\n"
    for name, pieces in split_ways(data):
        out, error = failure(pieces, ChatCompletionChunk, framing="sse")
        assert [c.text for c in out] == ["a"], name
        assert error.offset == len(sse(chunk("a"))), name


def test_sse_truncated_event_raises() -> None:
    data = sse(chunk("a"))
    out, error = failure([data + b'data: {"choices": [{"del'], ChatCompletionChunk)
    assert [c.text for c in out] == ["a"]
    assert error.offset == len(data)


def test_sse_line_limit() -> None:
    decoder = ChunkDecoder(framing="sse", max_object_size=1000)
    with pytest.raises(RemoteProtocolError, match="max_object_size"):
        for _ in range(100):
            decoder.feed(b"data: " + b"x" * 100)


def test_sse_event_limit_over_many_lines() -> None:
    decoder = ChunkDecoder(framing="sse", max_object_size=1000)
    with pytest.raises(RemoteProtocolError, match="max_object_size"):
        decoder.feed(b"data: xxxxxxxxxx\n" * 200)


# --- NDJSON and JSON arrays --------------------------------------------------------------


def test_ndjson() -> None:
    data = concatenated(chunk("a"), chunk("}{\\n"), {"done": True}, sep="\n") + b"\n"
    for framing in ("ndjson", "auto"):
        out = decode_every_way(data, Any, framing=framing)
        assert [o.get("done", False) for o in out] == [False, False, True]


def test_ndjson_bad_line() -> None:
    out, error = failure([b'{"a": 1}\n{"b": }\n{"c": 3}\n'], Any, framing="ndjson")
    assert out == [{"a": 1}]
    assert error.offset == 9


def test_json_array() -> None:
    data = b"[" + concatenated(chunk("a"), chunk("]}{["), sep="\n,\r\n") + b"\n]\n"
    for framing in ("json-array", "auto"):
        out = decode_every_way(data, framing=framing)
        assert [c.text for c in out] == ["a", "]}{["]


def test_json_array_done_and_empty() -> None:
    decoder = ChunkDecoder(Any, framing="json-array")
    assert decoder.feed(b" [ ") == []
    assert not decoder.done
    assert decoder.feed(b"]") == []
    assert decoder.done
    assert decoder.close() == []


@pytest.mark.parametrize(
    ("data", "good", "offset", "message"),
    [
        (b'[{"a": 1}', 1, 9, "closing ']'"),
        (b'[{"a": 1}, {"b"', 1, 11, "inside an array element"),
        (b'[{"a": 1} {"b": 2}]', 1, 10, "expected ',' or ']'"),
        (b'[{"a": 1}] {}', 1, 11, "after the end of the array"),
        (b'[{"a": 1},]', 1, 10, "expected a value"),
    ],
)
def test_json_array_errors(data: bytes, good: int, offset: int, message: str) -> None:
    for name, pieces in split_ways(data):
        out, error = failure(pieces, Any, framing="json-array")
        assert len(out) == good, name
        assert error.offset == offset, name
        assert message in str(error), name


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
