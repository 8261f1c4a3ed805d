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
"""

from __future__ import annotations

import argparse
import gc
import importlib
import io
import json
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from purai_proto import ChatCompletionChunk, ChunkDecoder, Framing
from purai_transports.bench.corpus import CORPORA, DEFAULT_OBJECTS, DEFAULT_SEED

__all__ = ["main", "run"]

DEFAULT_REPEAT = 5
QUICK_OBJECTS = 3_000
QUICK_REPEAT = 3
DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "decoder.json"

KIB = 1024
RANDOM_PIECE = (1, 64)

LIMIT = "msgspec typed, one array (the limit)"
DECODER = "ChunkDecoder concatenated"
RAW_DECODE = "json raw_decode loop (str)"

_WHITESPACE = re.compile(r"[ \t\r\n]*")


class CountMismatch(Exception):
    """An approach decoded something other than the corpus: the run must not go on."""


@dataclass
class Case:
    """One approach with one way of feeding it, ready to time.

    ``fn`` decodes the whole corpus and returns how many objects it got.
    """

    approach: str
    feed: str
    fn: Callable[[], int]
    times: list[float] = field(default_factory=list)


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


def fixed_pieces(data: bytes, size: int) -> list[bytes]:
    """``data`` in pieces of ``size`` bytes, as bulk socket reads deliver it."""
    return [data[i : i + size] for i in range(0, len(data), size)]


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
        "16 KiB": fixed_pieces(corpus.data, 16 * KIB),
        "64 KiB": fixed_pieces(corpus.data, 64 * KIB),
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


# --- approaches ---------------------------------------------------------------------


def array_fn(arrays: Sequence[bytes]) -> Callable[[], int]:
    """msgspec decoding JSON arrays of pre-split objects, one call per array.

    With one array holding everything, this is the limit: boundaries known for free.
    """
    decode = msgspec.json.Decoder(list[ChatCompletionChunk]).decode

    def fn() -> int:
        return sum(len(decode(array)) for array in arrays)

    return fn


def per_object_fn(decode: Callable[[bytes], Any], objects: Sequence[bytes]) -> Callable[[], int]:
    """One decode call per pre-split object: what each call costs besides decoding."""

    def fn() -> int:
        n = 0
        for obj in objects:
            decode(obj)
            n += 1
        return n

    return fn


def chunk_decoder_fn(
    pieces: Sequence[bytes], framing: Framing = "concatenated"
) -> Callable[[], int]:
    """The project: a fresh ``ChunkDecoder`` fed every piece, then closed."""

    def fn() -> int:
        decoder = ChunkDecoder(ChatCompletionChunk, framing=framing)
        feed = decoder.feed
        n = 0
        for piece in pieces:
            n += len(feed(piece))
        return n + len(decoder.close())

    return fn


def decode_all(pieces: Iterable[bytes]) -> list[Any]:
    """Everything a ``ChunkDecoder`` yields for ``pieces``, for checking, not timing."""
    decoder = ChunkDecoder(ChatCompletionChunk, framing="concatenated")
    out: list[Any] = []
    for piece in pieces:
        out.extend(decoder.feed(piece))
    out.extend(decoder.close())
    return out


def raw_decode_fn(text: str) -> Callable[[], int]:
    """The standard library's way to read concatenated JSON: ``raw_decode`` in a loop."""
    raw_decode = json.JSONDecoder().raw_decode
    skip = _WHITESPACE.match

    def fn() -> int:
        n = 0
        pos = skip(text, 0).end()  # type: ignore[union-attr]
        end = len(text)
        while pos < end:
            _, pos = raw_decode(text, pos)
            n += 1
            pos = skip(text, pos).end()  # type: ignore[union-attr]
        return n

    return fn


def ijson_fn(backend: Any, data: bytes) -> Callable[[], int]:
    """ijson, the usual streaming JSON parser, reading 16 KiB at a time."""

    def fn() -> int:
        items = backend.items(io.BytesIO(data), "", multiple_values=True, buf_size=16 * KIB)
        return sum(1 for _ in items)

    return fn


# --- peers that may be missing ------------------------------------------------------


def load_ijson() -> tuple[Any | None, str]:
    """ijson with its C backend if it has one; the backend's name for the report."""
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
    """orjson, or why it is missing."""
    try:
        return importlib.import_module("orjson"), "orjson"
    except ImportError:
        return None, "orjson not installed"


# --- building and timing ------------------------------------------------------------


def build_cases(corpus: Corpus, feeds: dict[str, list[bytes]], notes: list[str]) -> list[Case]:
    """Every approach and feed for one corpus, the limit first."""
    objs = corpus.objects
    typed = msgspec.json.Decoder(ChatCompletionChunk)
    cases = [
        Case(LIMIT, "pre-split", array_fn([b"[" + b",".join(objs) + b"]"])),
        Case("msgspec typed, one array per 16 KiB", "pre-split", array_fn(batches(objs, 16 * KIB))),
        Case("msgspec typed, one call per object", "pre-split", per_object_fn(typed.decode, objs)),
    ]
    cases += [Case(DECODER, feed, chunk_decoder_fn(pieces)) for feed, pieces in feeds.items()]
    cases.append(Case(RAW_DECODE, "whole text", raw_decode_fn(corpus.text)))
    ijson, ijson_name = load_ijson()
    if ijson is None:
        notes.append(f"ijson skipped: {ijson_name}")
    else:
        cases.append(Case(f"ijson items ({ijson_name})", "16 KiB", ijson_fn(ijson, corpus.data)))
    orjson, orjson_name = load_orjson()
    if orjson is None:
        notes.append(f"orjson skipped: {orjson_name}")
    else:
        orjson_loads = per_object_fn(orjson.loads, objs)
        cases.append(Case("orjson.loads per object (dicts)", "pre-split", orjson_loads))
    untyped = per_object_fn(msgspec.json.Decoder().decode, objs)
    cases.append(Case("msgspec untyped per object (dicts)", "pre-split", untyped))
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


def time_once(case: Case, corpus: Corpus) -> None:
    """Time one run of ``case`` after a full collection, and check its count."""
    gc.collect()
    start = time.perf_counter()
    count = case.fn()
    case.times.append(time.perf_counter() - start)
    if count != len(corpus.objects):
        raise CountMismatch(
            f"{case.approach}, {case.feed}, corpus {corpus.name}: "
            f"decoded {count} objects, expected {len(corpus.objects)}"
        )


def measure(corpus: Corpus, cases: list[Case], repeat: int) -> list[Row]:
    """Time every case ``repeat`` times, round-robin, and turn medians into rows."""
    for _ in range(repeat):
        for case in cases:
            time_once(case, corpus)
    n, size = len(corpus.objects), len(corpus.data)
    limit_mb_s = size / statistics.median(cases[0].times) / 1e6
    rows = []
    for case in cases:
        median = statistics.median(case.times)
        mb_s = size / median / 1e6
        ratio = mb_s / limit_mb_s
        rows.append(
            Row(corpus.name, case.approach, case.feed, n, size, median, mb_s, ratio, case.times)
        )
    return rows


# --- reporting ----------------------------------------------------------------------


def machine_info(ijson_backend: str, orjson_state: str) -> dict[str, Any]:
    """What the figures depend on, so a reader can tell which machine made them."""
    info: dict[str, Any] = {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "msgspec": msgspec.__version__,
        "purai_revision": source_revision(),
        "ijson_backend": ijson_backend,
        "orjson": orjson_state,
    }
    if hasattr(os, "sched_getaffinity"):
        info["cpus_usable"] = len(os.sched_getaffinity(0))
    for name in ("orjson", "ijson"):
        module = sys.modules.get(name)
        if module is not None:
            info[f"{name}_version"] = getattr(module, "__version__", "?")
    return info


def source_revision() -> str:
    """The checkout's commit, marked dirty when the code differs from it.

    The decoder changes often; figures are only comparable with the code that made them.
    """
    try:
        done = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return done.stdout.strip()


def cpu_model() -> str:
    """The CPU's name from /proc/cpuinfo where there is one (Linux), else platform's."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def format_table(rows: list[Row]) -> str:
    """A Markdown table, so the output can go into docs/benchmarks.md unchanged."""
    header = ("approach", "feed", "MB/s", "ratio to the limit")
    lines = [(r.approach, r.feed, f"{r.mb_s:.1f}", f"{r.ratio_to_limit:.2f}") for r in rows]
    widths = [max(len(line[i]) for line in [header, *lines]) for i in range(4)]

    def fmt(cells: Sequence[str]) -> str:
        padded = [
            c.rjust(w) if i >= 2 else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "| " + " | ".join(padded) + " |"

    rule = "| " + " | ".join("-" * w for w in widths) + " |"
    return "\n".join([fmt(header), rule, *(fmt(line) for line in lines)])


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


def save(path: Path, payload: dict[str, Any]) -> None:
    """Write the results through a temporary file, so a crash leaves no half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)


# --- command line -------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Options, with ``--quick`` filling in whatever was not given explicitly."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.decoder",
        description="ChunkDecoder throughput against msgspec's limit and the peers.",
    )
    parser.add_argument("--objects", type=int, help=f"objects per corpus ({DEFAULT_OBJECTS})")
    parser.add_argument("--repeat", type=int, help=f"timed runs per row ({DEFAULT_REPEAT})")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK_OBJECTS} objects, {QUICK_REPEAT} repeats: a smoke run",
    )
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to save results")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.objects is None:
        args.objects = QUICK_OBJECTS if args.quick else DEFAULT_OBJECTS
    if args.repeat is None:
        args.repeat = QUICK_REPEAT if args.quick else DEFAULT_REPEAT
    if args.objects < 1 or args.repeat < 1:
        parser.error("--objects and --repeat must be positive")
    return args


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
    print(format_table(rows))
    return rows


def run(argv: list[str] | None = None) -> int:
    """Run the suite with command-line ``argv``; return the process exit status."""
    args = parse_args(argv)
    notes: list[str] = []
    _, ijson_backend = load_ijson()
    _, orjson_state = load_orjson()
    machine = machine_info(ijson_backend, orjson_state)
    print(
        f"Python {machine['python']}, msgspec {machine['msgspec']}, "
        f"purai {machine['purai_revision']}, "
        f"{machine['cpu_count']} CPUs ({machine['cpu']}); "
        f"median of {args.repeat} runs, round-robin"
    )
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
    }
    payload = {
        "machine": machine,
        "config": config,
        "notes": list(dict.fromkeys(notes)),
        "rows": [asdict(r) for r in rows],
    }
    save(args.json, payload)
    print(f"results saved to {args.json}")
    return 0


def main() -> None:
    """Entry point for ``python -m benchmarks.decoder``."""
    raise SystemExit(run())


if __name__ == "__main__":
    main()
