"""Decoder throughput: ``ChunkDecoder`` against the limit and its peers, on the same bytes.

Usage::

    python -m benchmarks.decoder [--objects N] [--repeat R] [--quick] [--json PATH]

Why it is built this way (see docs/benchmarks.md and the performance guide):

* Absolute MB/s drift between runs and machines; only ratios measured in one process,
  on the same bytes, mean anything. So every approach runs here, on the same corpus,
  and each row reports its ratio to *the limit*: msgspec decoding the objects into the
  same Structs when someone has already found every boundary for free, as one array.
  One array of everything is not always the fastest way to call msgspec (its result
  fills memory, and caches, that smaller batches reuse), so a second reference row
  decodes the same objects as arrays of 16 KiB: a ratio above 1 is read against it.
* Repeats go round-robin over the approaches rather than one approach at a time, so a
  slow spell of the machine (another process, CPU frequency) spreads over all rows
  instead of skewing one; each row reports the median.
* Pieces are cut before timing: slicing is the transport's work, not the decoder's.
* Every timed run counts what it decoded, and the decoder's output is compared with the
  limit's once before timing: a fast wrong answer must fail loudly, not score well.
* Nothing here asserts on time. Benchmarks report numbers; tests check behaviour.

What is timed and how (the approaches, round-robin timing, counts checked) is
:mod:`purai_transports.bench`, the code ``purai bench`` measures with; this suite
chooses the rows, the corpora and the feeds.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import msgspec

from purai_proto import ChatCompletionChunk, ChunkDecoder
from purai_transports.bench.bodies import cut
from purai_transports.bench.corpus import CORPORA, DEFAULT_OBJECTS, DEFAULT_SEED
from purai_transports.bench.measure import Case, CountMismatch, rates, run_rounds
from purai_transports.bench.peers import (
    array_fn,
    chunk_decoder_fn,
    ijson_fn,
    load_ijson,
    load_orjson,
    per_object_fn,
    raw_decode_fn,
)
from purai_transports.bench.report import format_table

from ._common import RESULTS_DIR, Size, machine_info, machine_line, parse_suite_args, save_results

__all__ = ["run"]

DEFAULT_REPEAT = 5
QUICK_OBJECTS = 3_000
QUICK_REPEAT = 3
DEFAULT_JSON = RESULTS_DIR / "decoder.json"

KIB = 1024
RANDOM_PIECE = (1, 64)

LIMIT = "msgspec typed, one array (the limit)"
DECODER = "ChunkDecoder concatenated"
RAW_DECODE = "json raw_decode loop (str)"


@dataclass
class Row:
    """One line of the results table, as saved to JSON."""

    corpus: str
    approach: str
    feed: str
    objects: int
    bytes: int
    median_s: float
    mb_s: float
    ratio_to_limit: float
    times_s: list[float]


@dataclass
class Corpus:
    """The same bytes in every shape the approaches want them."""

    name: str
    objects: list[bytes]
    data: bytes
    text: str

    @classmethod
    def build(cls, name: str, n: int) -> Corpus:
        objects = CORPORA[name](n)
        data = b"".join(objects)
        return cls(name, objects, data, data.decode())


# --- pieces -------------------------------------------------------------------------


def random_pieces(data: bytes, seed: int) -> list[bytes]:
    """``data`` cut at seeded random places, 1 to 64 bytes apart.

    Small pieces cut objects, strings and escapes anywhere: this is where a decoder that
    rescans its buffer on every call would turn quadratic, so it gets the whole corpus.
    """
    rng = random.Random(seed)
    pieces = []
    pos = 0
    while pos < len(data):
        step = rng.randint(*RANDOM_PIECE)
        pieces.append(data[pos : pos + step])
        pos += step
    return pieces


def decoder_feeds(corpus: Corpus, seed: int) -> dict[str, list[bytes]]:
    """The ways the decoder is fed, by label: bulk reads, a live stream, small cuts."""
    return {
        "16 KiB": cut(corpus.data, 16 * KIB),
        "64 KiB": cut(corpus.data, 64 * KIB),
        "one object per feed": corpus.objects,
        "random 1-64 B": random_pieces(corpus.data, seed),
    }


def batches(objects: Sequence[bytes], size: int) -> list[bytes]:
    """The objects as JSON arrays of about ``size`` bytes each, split at boundaries."""
    out: list[bytes] = []
    batch: list[bytes] = []
    filled = 0
    for obj in objects:
        batch.append(obj)
        filled += len(obj)
        if filled >= size:
            out.append(b"[" + b",".join(batch) + b"]")
            batch, filled = [], 0
    if batch:
        out.append(b"[" + b",".join(batch) + b"]")
    return out


# --- checking -----------------------------------------------------------------------


def decode_all(pieces: Iterable[bytes]) -> list[Any]:
    """Everything a ``ChunkDecoder`` yields for ``pieces``, for checking, not timing."""
    decoder = ChunkDecoder(ChatCompletionChunk, framing="concatenated")
    out: list[Any] = []
    for piece in pieces:
        out.extend(decoder.feed(piece))
    out.extend(decoder.close())
    return out


# --- building and timing ------------------------------------------------------------


def build_cases(corpus: Corpus, feeds: dict[str, list[bytes]], notes: list[str]) -> list[Case]:
    """Every approach and feed for one corpus, the limit first."""
    objs = corpus.objects
    typed = msgspec.json.Decoder(ChatCompletionChunk)
    cases = [
        Case(LIMIT, array_fn([b"[" + b",".join(objs) + b"]"]), "pre-split"),
        Case("msgspec typed, one array per 16 KiB", array_fn(batches(objs, 16 * KIB)), "pre-split"),
        Case("msgspec typed, one call per object", per_object_fn(typed.decode, objs), "pre-split"),
    ]
    cases += [Case(DECODER, chunk_decoder_fn(pieces), feed) for feed, pieces in feeds.items()]
    cases.append(Case(RAW_DECODE, raw_decode_fn(corpus.text), "whole text"))
    ijson, ijson_name = load_ijson()
    if ijson is None:
        notes.append(f"ijson skipped: {ijson_name}")
    else:
        ijson_items = ijson_fn(ijson, corpus.data, 16 * KIB)
        cases.append(Case(f"ijson items ({ijson_name})", ijson_items, "16 KiB"))
    orjson, orjson_name = load_orjson()
    if orjson is None:
        notes.append(f"orjson skipped: {orjson_name}")
    else:
        orjson_loads = per_object_fn(orjson.loads, objs)
        cases.append(Case("orjson.loads per object (dicts)", orjson_loads, "pre-split"))
    untyped = per_object_fn(msgspec.json.Decoder().decode, objs)
    cases.append(Case("msgspec untyped per object (dicts)", untyped, "pre-split"))
    return cases


def check_decoder(corpus: Corpus, feeds: dict[str, list[bytes]]) -> None:
    """Decode the corpus once per feed and compare with msgspec's, object by object.

    Counting in the timed runs catches lost or extra objects; this also catches wrong
    ones (a value cut at a ``}{`` inside a string would decode into something else).
    """
    want = msgspec.json.decode(
        b"[" + b",".join(corpus.objects) + b"]", type=list[ChatCompletionChunk]
    )
    for feed, pieces in feeds.items():
        got = decode_all(pieces)
        where = f"{DECODER}, {feed}, corpus {corpus.name}"
        if len(got) != len(want):
            raise CountMismatch(f"{where}: decoded {len(got)} objects, expected {len(want)}")
        if got != want:
            bad = next(i for i, (a, b) in enumerate(zip(got, want, strict=True)) if a != b)
            raise CountMismatch(f"{where}: object {bad} differs from msgspec's")


def measure(corpus: Corpus, cases: list[Case], repeat: int) -> list[Row]:
    """Time every case ``repeat`` times, round-robin, and turn medians into rows."""
    try:
        run_rounds(cases, len(corpus.objects), repeat=repeat)
    except CountMismatch as exc:
        raise CountMismatch(f"{exc}, corpus {corpus.name}") from None
    n, size = len(corpus.objects), len(corpus.data)
    return [
        Row(corpus.name, r.name, r.feed, n, size, r.median_s, r.mb_s, r.ratio, case.times)
        for case, r in zip(cases, rates(cases, size), strict=True)
    ]


# --- reporting ----------------------------------------------------------------------


def table(rows: list[Row]) -> str:
    """The results as Markdown."""
    header = ("approach", "feed", "MB/s", "ratio to the limit")
    lines = [(r.approach, r.feed, f"{r.mb_s:.1f}", f"{r.ratio_to_limit:.2f}") for r in rows]
    return format_table(header, lines, left=2)


def summary(corpus: str, rows: list[Row]) -> str:
    """The decoder at 16 KiB against the standard library's way of doing the same."""
    by_key = {(r.approach, r.feed): r for r in rows}
    ours = by_key[(DECODER, "16 KiB")]
    peer = by_key[(RAW_DECODE, "whole text")]
    return (
        f"{corpus}: ChunkDecoder at 16 KiB runs at {ours.mb_s / peer.mb_s:.2f}x "
        f"json raw_decode ({ours.mb_s:.1f} vs {peer.mb_s:.1f} MB/s), "
        f"{ours.ratio_to_limit:.2f} of the limit"
    )


# --- command line -------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Options, with ``--quick`` filling in whatever was not given explicitly."""
    return parse_suite_args(
        "decoder",
        "ChunkDecoder throughput against msgspec's limit and the peers.",
        argv,
        {
            "objects": Size(DEFAULT_OBJECTS, QUICK_OBJECTS, "objects per corpus"),
            "repeat": Size(DEFAULT_REPEAT, QUICK_REPEAT, "timed runs per row"),
        },
        hidden=_seed_option,
    )


def _seed_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=argparse.SUPPRESS)


def bench_corpus(name: str, args: argparse.Namespace, notes: list[str]) -> list[Row]:
    """Build, check, time and print one corpus."""
    corpus = Corpus.build(name, args.objects)
    size = len(corpus.data)
    print(
        f"\n## {name}: {len(corpus.objects):,} objects, {size / 1e6:.1f} MB, "
        f"{size / len(corpus.objects):.0f} bytes per object",
        flush=True,
    )
    feeds = decoder_feeds(corpus, args.seed)
    check_decoder(corpus, feeds)
    rows = measure(corpus, build_cases(corpus, feeds, notes), args.repeat)
    print(table(rows))
    return rows


def run(argv: list[str] | None = None) -> int:
    """Run the suite with command-line ``argv``; return the process exit status."""
    args = parse_args(argv)
    notes: list[str] = []
    print(machine_line(machine_info()) + f"; median of {args.repeat} runs, round-robin")
    rows: list[Row] = []
    try:
        for name in CORPORA:
            rows += bench_corpus(name, args, notes)
    except CountMismatch as exc:
        print(f"\nFAILED: {exc}", file=sys.stderr)
        return 1
    print()
    for name in CORPORA:
        print(summary(name, [r for r in rows if r.corpus == name]))
    for note in dict.fromkeys(notes):
        print(f"note: {note}")
    config = {
        "objects": args.objects,
        "repeat": args.repeat,
        "seed": args.seed,
        "random_piece_bytes": list(RANDOM_PIECE),
        "ijson_backend": load_ijson()[1],
    }
    save_results(args.json, "decoder", config, [asdict(r) for r in rows], notes)
    return 0


if __name__ == "__main__":
    raise SystemExit(run())
