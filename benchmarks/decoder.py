"""Decoder throughput: ``ChunkDecoder`` against the limit and its peers, on the same bytes.

Usage::

    python -m benchmarks.decoder [--objects N] [--repeat R] [--quick] [--json PATH]

Why it is built this way (see docs/benchmarks.md and the performance guide):

* Absolute MB/s drift between runs and machines; only ratios measured in one process,
  on the same bytes, mean anything. So every approach runs here, on the same corpus,
  and each row reports its ratio to *the limit*: msgspec decoding each object into the
  same Struct when someone has already found every boundary for free, one
  ``Decoder.decode`` call per object, results dropped as they come (as the decoder's
  are). The ratio is the limit's time over the row's, for the same objects, taken
  round by round and the median reported (``paired_ratio``): the machine drifts.
* Decoding everything as one big array, or keeping every result in a list, measures
  the garbage collector walking a growing list rather than decoding; those rows are
  kept for reference (with one array per 16 KiB and ``decode_lines`` per 16 KiB), not
  as the limit.
* ``ChunkDecoder`` is timed in every framing (concatenated, NDJSON, SSE, JSON array)
  on the same objects, fed 16 KiB and 64 KiB reads, one object per read (a live
  stream: what the stand-in server writes per object) and random cuts of 1 to 64
  bytes (anything quadratic shows there).
* Repeats go round-robin over the approaches rather than one approach at a time, so a
  slow spell of the machine (another process, CPU frequency) spreads over all rows
  instead of skewing one; each row reports the median.
* Pieces are cut before timing: slicing is the transport's work, not the decoder's.
* Every timed run counts what it decoded, and the decoder's output is compared with
  msgspec's once per framing and feed before timing: a fast wrong answer must fail
  loudly, not score well.
* Nothing here asserts on time. Benchmarks report numbers; tests check behaviour.

What is timed and how (the approaches, round-robin timing, counts checked) is
:mod:`purai_transports.bench`, the code ``purai bench`` measures with; this suite
chooses the rows, the corpora and the feeds.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import msgspec

from purai_proto import ChatCompletionChunk, ChunkDecoder, StreamFraming
from purai_transports.bench.bodies import cut
from purai_transports.bench.corpus import (
    CORPORA,
    DEFAULT_OBJECTS,
    DEFAULT_SEED,
    frame,
    object_reads,
)
from purai_transports.bench.measure import Case, CountMismatch, paired_ratio, run_rounds
from purai_transports.bench.peers import (
    Count,
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

LIMIT = "msgspec typed, one call per object (the limit)"
RAW_DECODE = "json raw_decode loop (str)"
FRAMINGS: tuple[StreamFraming, ...] = ("concatenated", "ndjson", "sse", "json-array")
#: The feeds whose ratios the summary prints for each framing.
SUMMARY_FEEDS = ("16 KiB", "one object per feed")


def decoder_name(framing: str) -> str:
    """A decoder row's approach: ``ChunkDecoder concatenated`` and so on."""
    return f"ChunkDecoder {framing}"


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
    """The same objects in every shape the approaches want them."""

    name: str
    objects: list[bytes]
    #: The body in each framing, as the stand-in server writes it.
    bodies: dict[StreamFraming, bytes]
    text: str  # the concatenated body, for the peers that read str

    @classmethod
    def build(cls, name: str, n: int) -> Corpus:
        objects = CORPORA[name](n)
        bodies = {framing: frame(objects, framing) for framing in FRAMINGS}
        return cls(name, objects, bodies, bodies["concatenated"].decode())


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


def decoder_feeds(corpus: Corpus, framing: StreamFraming, seed: int) -> dict[str, list[bytes]]:
    """The ways the decoder is fed, by label: bulk reads, a live stream, small cuts."""
    data = corpus.bodies[framing]
    return {
        "16 KiB": cut(data, 16 * KIB),
        "64 KiB": cut(data, 64 * KIB),
        "one object per feed": object_reads(corpus.objects, framing),
        "random 1-64 B": random_pieces(data, seed),
    }


def batches(objects: Sequence[bytes], size: int, *, lines: bool = False) -> list[bytes]:
    """The objects as JSON arrays of about ``size`` bytes each, split at boundaries
    (with ``lines``, as runs of one object a line instead)."""
    out: list[bytes] = []
    batch: list[bytes] = []
    filled = 0
    for obj in objects:
        batch.append(obj)
        filled += len(obj)
        if filled >= size:
            out.append(b"\n".join(batch) if lines else b"[" + b",".join(batch) + b"]")
            batch, filled = [], 0
    if batch:
        out.append(b"\n".join(batch) if lines else b"[" + b",".join(batch) + b"]")
    return out


# --- checking -----------------------------------------------------------------------


def decode_all(pieces: Iterable[bytes], framing: StreamFraming) -> list[Any]:
    """Everything a ``ChunkDecoder`` yields for ``pieces``, for checking, not timing."""
    decoder = ChunkDecoder(ChatCompletionChunk, framing=framing)
    out: list[Any] = []
    for piece in pieces:
        out.extend(decoder.feed(piece))
    out.extend(decoder.close())
    return out


# --- building and timing ------------------------------------------------------------


Feeds = dict[StreamFraming, dict[str, list[bytes]]]  # by framing, then by feed label


def build_cases(corpus: Corpus, feeds: Feeds, notes: list[str]) -> list[Case]:
    """Every approach and feed for one corpus, the limit first."""
    objs = corpus.objects
    typed = msgspec.json.Decoder(ChatCompletionChunk)
    lines_16k = batches(objs, 16 * KIB, lines=True)
    cases = [
        Case(LIMIT, per_object_fn(typed.decode, objs), "pre-split"),
        Case("msgspec typed, one array of all", array_fn([b"[" + b",".join(objs) + b"]"]), ""),
        Case("msgspec typed, one array per 16 KiB", array_fn(batches(objs, 16 * KIB)), ""),
        Case("msgspec typed, decode_lines per 16 KiB", lines_fn(lines_16k), ""),
    ]
    for case in cases[1:]:
        case.feed = "pre-split"
    for framing, by_feed in feeds.items():
        name = decoder_name(framing)
        cases += [
            Case(name, chunk_decoder_fn(pieces, framing), feed) for feed, pieces in by_feed.items()
        ]
    cases.append(Case(RAW_DECODE, raw_decode_fn(corpus.text), "whole text"))
    ijson, ijson_name = load_ijson()
    if ijson is None:
        notes.append(f"ijson skipped: {ijson_name}")
    else:
        ijson_items = ijson_fn(ijson, corpus.bodies["concatenated"], 16 * KIB)
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


def lines_fn(runs: Sequence[bytes]) -> Count:
    """msgspec's ``decode_lines`` on runs of objects, one per line, one call each."""
    decode_lines = msgspec.json.Decoder(ChatCompletionChunk).decode_lines

    def fn() -> int:
        return sum(len(decode_lines(run)) for run in runs)

    return fn


def check_decoder(corpus: Corpus, feeds: Feeds) -> None:
    """Decode the corpus once per framing and feed and compare with msgspec's, object
    by object.

    Counting in the timed runs catches lost or extra objects; this also catches wrong
    ones (a value cut at a ``}{`` inside a string would decode into something else).
    """
    want = msgspec.json.decode(
        b"[" + b",".join(corpus.objects) + b"]", type=list[ChatCompletionChunk]
    )
    for framing, by_feed in feeds.items():
        for feed, pieces in by_feed.items():
            got = decode_all(pieces, framing)
            where = f"{decoder_name(framing)}, {feed}, corpus {corpus.name}"
            if len(got) != len(want):
                raise CountMismatch(f"{where}: decoded {len(got)} objects, expected {len(want)}")
            if got != want:
                bad = next(i for i, (a, b) in enumerate(zip(got, want, strict=True)) if a != b)
                raise CountMismatch(f"{where}: object {bad} differs from msgspec's")


def measure(corpus: Corpus, cases: list[Case], repeat: int) -> list[Row]:
    """Time every case ``repeat`` times, round-robin, and turn medians into rows.

    A decoder row's MB/s is over its own framing's body; every ratio is of times,
    the limit's over the row's, for the same objects.
    """
    try:
        run_rounds(cases, len(corpus.objects), repeat=repeat)
    except CountMismatch as exc:
        raise CountMismatch(f"{exc}, corpus {corpus.name}") from None
    n = len(corpus.objects)
    limit_times = cases[0].times
    rows = []
    for case in cases:
        size = len(corpus.bodies[_framing_of(case.name)])
        median_s = statistics.median(case.times)
        rows.append(
            Row(
                corpus.name, case.name, case.feed, n, size, median_s, size / median_s / 1e6,
                paired_ratio(limit_times, case.times), case.times,
            )
        )  # fmt: skip
    return rows


def _framing_of(approach: str) -> StreamFraming:
    """The framing whose body a row reads (the concatenated one for all but decoders)."""
    return next((f for f in FRAMINGS if approach == decoder_name(f)), "concatenated")


# --- reporting ----------------------------------------------------------------------


def table(rows: list[Row]) -> str:
    """The results as Markdown."""
    header = ("approach", "feed", "MB/s", "x limit")
    lines = [(r.approach, r.feed, f"{r.mb_s:.1f}", f"{r.ratio_to_limit:.2f}") for r in rows]
    return format_table(header, lines, left=2)


def summary(corpus: str, rows: list[Row]) -> str:
    """Each framing's ratio to the limit at 16 KiB reads and one object per read."""
    by_key = {(r.approach, r.feed): r for r in rows}
    parts = []
    for framing in FRAMINGS:
        ratios = " / ".join(
            f"{by_key[(decoder_name(framing), feed)].ratio_to_limit:.2f}" for feed in SUMMARY_FEEDS
        )
        parts.append(f"{framing} {ratios}")
    feeds = " / ".join(SUMMARY_FEEDS)
    return f"{corpus}: ChunkDecoder x limit at {feeds}: " + "; ".join(parts)


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
    size = len(corpus.bodies["concatenated"])
    print(
        f"\n## {name}: {len(corpus.objects):,} objects, {size / 1e6:.1f} MB, "
        f"{size / len(corpus.objects):.0f} bytes per object (concatenated)",
        flush=True,
    )
    feeds = {framing: decoder_feeds(corpus, framing, args.seed) for framing in FRAMINGS}
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
