"""Content-Encoding undone as the body arrives: gzip, deflate (zlib and raw), several
codings in turn, and a decompression bomb stopped within its size limit."""

from __future__ import annotations

import gzip
import tracemalloc
import zlib
from collections.abc import Callable
from functools import cache

import msgspec
import pytest

from purai_proto import (
    HttpParserName,
    RemoteProtocolError,
)
from purai_proto._content_encoding import BodyDecompressor, decompressor_for
from tests.helpers.connection import (
    NOT_STREAMED,
    Raised,
    drive,
    kinds,
    new_connection,
    run,
    text_of,
)
from tests.helpers.replies import (
    COMPLETION,
    EVENT_STREAM,
    JSON,
    OPENAI_SSE,
    SEED,
    http_reply,
    raw_deflate,
)

# --- content encodings --------------------------------------------------------------


ENCODINGS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress,
    "x-gzip": gzip.compress,
    "deflate": zlib.compress,  # RFC 9110: zlib-wrapped
    "raw-deflate": raw_deflate,  # what many servers send as "deflate"
}


@pytest.mark.parametrize("name", sorted(ENCODINGS))
@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_compressed_seed(http_parser: HttpParserName, name: str, framing: str) -> None:
    coding = b"deflate" if name == "raw-deflate" else name.encode()
    body = ENCODINGS[name](SEED)
    reply = http_reply(
        body, headers=[JSON, (b"Content-Encoding", coding)], framing=framing, chunk_size=7
    )
    events, conn = run(reply, http_parser=http_parser)
    assert text_of(events) == "AI language model."
    assert conn.reusable


def test_compressed_sse(http_parser: HttpParserName) -> None:
    headers = [EVENT_STREAM, (b"Content-Encoding", b"gzip")]
    events, _ = run(
        http_reply(gzip.compress(OPENAI_SSE), headers=headers, framing="chunked"),
        http_parser=http_parser,
    )
    assert text_of(events) == "Hello, world"


def test_compressed_completion(http_parser: HttpParserName) -> None:
    body = zlib.compress(msgspec.json.encode(COMPLETION))
    headers = [JSON, (b"Content-Encoding", b"deflate")]
    events, _ = run(
        http_reply(body, headers=headers), request=NOT_STREAMED, http_parser=http_parser
    )
    assert events[1].completion.text == "Hi there."


def test_gzip_members_back_to_back(http_parser: HttpParserName) -> None:
    half = len(SEED) // 2
    body = gzip.compress(SEED[:half]) + gzip.compress(SEED[half:])
    events, _ = run(
        http_reply(body, headers=[(b"Content-Encoding", b"gzip")]), http_parser=http_parser
    )
    assert text_of(events) == "AI language model."


def test_two_codings_are_undone_in_reverse(http_parser: HttpParserName) -> None:
    body = gzip.compress(zlib.compress(SEED))
    events, _ = run(
        http_reply(body, headers=[(b"Content-Encoding", b"deflate, gzip")]), http_parser=http_parser
    )
    assert text_of(events) == "AI language model."


def test_identity_coding(http_parser: HttpParserName) -> None:
    events, _ = run(
        http_reply(SEED, headers=[(b"Content-Encoding", b"identity")]), http_parser=http_parser
    )
    assert text_of(events) == "AI language model."


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (gzip.compress(SEED)[:-9], "the body ended inside the gzip data, after"),
        (gzip.compress(SEED) + b"junk", "bytes after the end of the gzip data"),
        (b"\x1f\x8b\x08\x00garbage-garbage", "invalid gzip data"),
    ],
)
def test_bad_gzip(http_parser: HttpParserName, body: bytes, match: str) -> None:
    events, conn = run(
        http_reply(body, headers=[(b"Content-Encoding", b"gzip")]), http_parser=http_parser
    )
    assert isinstance(events[-1], Raised)
    assert match in events[-1].message
    assert not conn.reusable


def test_truncated_deflate_of_one_byte(http_parser: HttpParserName) -> None:
    events, _ = run(
        http_reply(zlib.compress(SEED)[:1], headers=[(b"Content-Encoding", b"deflate")]),
        http_parser=http_parser,
    )
    assert events[-1] == Raised("the body ended inside the deflate data, after 1 compressed bytes")


def test_unsupported_coding(http_parser: HttpParserName) -> None:
    events, _ = run(
        http_reply(SEED, headers=[(b"Content-Encoding", b"br")]), http_parser=http_parser
    )
    assert kinds(events) == ["ResponseStarted", "Raised"]
    assert "unsupported Content-Encoding 'br'" in events[-1].message


@cache
def gzip_bomb(megabytes: int, byte: bytes = b"\0") -> bytes:
    """``megabytes`` MiB of one byte repeated, gzipped (about a thousandth the size)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = byte * (1 << 20)
    return b"".join(compressor.compress(block) for _ in range(megabytes)) + compressor.flush()


def test_gzip_bomb_is_stopped_while_inflating(http_parser: HttpParserName) -> None:
    # An error reply: its body is read and dropped past its first 64 KiB, so nothing
    # but the cap stops the inflating.
    bomb = gzip_bomb(128)
    assert len(bomb) < 200_000
    reply = http_reply(bomb, status=500, headers=[(b"Content-Encoding", b"gzip")])
    tracemalloc.start()
    try:
        conn = new_connection(max_decompressed_size=1 << 20, http_parser=http_parser)
        events = drive(conn, [reply], eof=False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert kinds(events) == ["ResponseStarted", "ErrorReceived", "Raised"]
    assert "inflates past 1048576 bytes" in events[-1].message
    # The cap held while inflating: nowhere near 128 MiB was ever allocated.
    assert peak < 8 << 20
    assert not conn.reusable


def test_gzip_bomb_with_the_default_cap(http_parser: HttpParserName) -> None:
    reply = http_reply(gzip_bomb(65), status=500, headers=[(b"Content-Encoding", b"gzip")])
    events, _ = run(reply, bytewise=False, http_parser=http_parser)
    assert kinds(events) == ["ResponseStarted", "ErrorReceived", "Raised"]
    assert "the body inflates past 67108864 bytes (max_decompressed_size)" in events[-1].message


def test_gzip_bomb_in_a_stream(http_parser: HttpParserName) -> None:
    reply = http_reply(gzip_bomb(16, b" "), headers=[(b"Content-Encoding", b"gzip")])
    events, _ = run(reply, bytewise=False, max_decompressed_size=1 << 20, http_parser=http_parser)
    assert kinds(events) == ["ResponseStarted", "Raised"]
    assert "inflates past 1048576 bytes" in events[-1].message


def test_compressed_body_within_the_cap_passes(http_parser: HttpParserName) -> None:
    body = gzip.compress(SEED)
    headers = [(b"Content-Encoding", b"gzip")]
    events, _ = run(
        http_reply(body, headers=headers), max_decompressed_size=len(SEED), http_parser=http_parser
    )
    assert text_of(events) == "AI language model."
    events, _ = run(
        http_reply(body, headers=headers),
        max_decompressed_size=len(SEED) - 1,
        http_parser=http_parser,
    )
    assert "inflates past" in events[-1].message


def test_decompressor_holds_errors_back_until_its_output_is_used() -> None:
    # The parts of BodyDecompressor a connection reaches only on some splits.
    seed_gz = gzip.compress(SEED)
    capped = BodyDecompressor(["gzip"], max_size=len(SEED))
    assert capped.decompress(seed_gz + seed_gz) == SEED  # the output up to the cap...
    with pytest.raises(RemoteProtocolError, match="inflates past"):
        capped.finish()  # ... then the error
    exact = BodyDecompressor(["gzip"], max_size=len(SEED))
    assert exact.decompress(seed_gz) == SEED
    with pytest.raises(RemoteProtocolError, match="inflates past"):
        exact.decompress(seed_gz)  # no room at all: raised at once
    junk = BodyDecompressor(["gzip"], max_size=1 << 20)
    assert junk.decompress(seed_gz + b"junk") == SEED
    with pytest.raises(RemoteProtocolError, match="bytes after the end of the gzip data") as info:
        junk.finish()
    assert info.value.offset == len(seed_gz)
    assert decompressor_for([b"identity"], 10) is None
