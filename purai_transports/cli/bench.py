"""``purai bench [FILE]``: ``ChunkDecoder``'s throughput beside msgspec's limit and the
peers, on a captured body or on the built-in corpus.

Only the command: what is timed and how lives in :mod:`purai_transports.bench`,
which the full suites of a checkout (``python -m benchmarks``) use too.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
from typing import Any, TextIO

import msgspec

from purai_proto import ChatCompletionChunk, __version__

from ..bench.bodies import Body, NotBenchmarkable
from ..bench.compare import Comparison, compare, read_size_label
from ..bench.corpus import builtin_bodies
from ..bench.measure import CountMismatch
from ..bench.report import comparison_table, machine, versions

__all__ = ["add_bench_parser"]

DEFAULT_READ_SIZES = (16 * 1024, 64 * 1024)
DEFAULT_SECONDS = 4.0
_SIZE = re.compile(r"(\d+)\s*(k|kb|kib|m|mb|mib)?", re.IGNORECASE)
_PEERS = ("msgspec", "orjson", "ijson")


def _read_size(text: str) -> int:
    """``16384``, ``16k``, ``16KiB`` or ``1M``: bytes per read (powers of 1024)."""
    match = _SIZE.fullmatch(text.strip())
    if match is None or int(match.group(1)) < 1:
        raise argparse.ArgumentTypeError(f"not a positive size in bytes: {text!r}")
    unit = (match.group(2) or "").lower()[:1]
    return int(match.group(1)) * {"": 1, "k": 1024, "m": 1024 * 1024}[unit]


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"not a positive number of seconds: {text!r}")
    return value


def add_bench_parser(commands: Any) -> None:
    bench = commands.add_parser(
        "bench",
        help="measure the decoder on a captured body or the built-in corpus",
        description="Measure ChunkDecoder's throughput beside msgspec's limit (msgspec "
        "decoding each object, the boundaries given) and the installed peers (json, "
        "ijson, orjson), on the same bytes in the same process, and print the ratios. "
        "Without FILE: a built-in corpus of chat streams in every framing (SSE, "
        "concatenated, NDJSON, JSON array). The full suites are 'python -m benchmarks' "
        "in a source checkout.",
    )
    bench.add_argument(
        "file",
        nargs="?",
        metavar="FILE",
        help="a captured response body in any framing, told apart automatically; "
        "- for standard input",
    )
    bench.add_argument(
        "--read-size",
        type=_read_size,
        action="append",
        metavar="SIZE",
        help="bytes per feed, e.g. 4096 or 64k (repeatable; default: 16k and 64k)",
    )
    bench.add_argument(
        "--time",
        type=_seconds,
        default=DEFAULT_SECONDS,
        metavar="SECONDS",
        help=f"about how long the timed runs take in all (default: {DEFAULT_SECONDS:g})",
    )
    bench.add_argument(
        "--untyped",
        action="store_true",
        help="decode into dicts and lists instead of ChatCompletionChunk",
    )
    bench.add_argument("--json", action="store_true", help="print the results as JSON")
    bench.set_defaults(run=run_bench)


def _bodies(file: str | None) -> list[Body]:
    if file is None:
        return builtin_bodies()
    if file == "-":
        return [Body.captured("standard input", sys.stdin.buffer.read())]
    with open(file, "rb") as f:
        return [Body.captured(file, f.read())]


class _Progress:
    """Progress on stderr: one line per body, redrawn each round on a terminal."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.live = stream.isatty()
        self.label = ""

    def start(self, body: Body, index: int, count: int) -> None:
        self.label = (
            f"purai bench: [{index}/{count}] {body.name} ({body.framing}, "
            f"{len(body.objects):,} objects, {len(body.data):,} bytes)"
        )
        self._show(f"{self.label}: warming up", final=False)

    def round(self, done: int) -> None:
        if self.live:
            self._show(f"{self.label}: round {done}", final=False)

    def end(self, comparison: Comparison) -> None:
        self._show(f"{self.label}: {comparison.rounds} rounds", final=True)

    def _show(self, line: str, *, final: bool) -> None:
        if self.live:
            self.stream.write("\r\x1b[K" + line + ("\n" if final else ""))
        elif final:
            self.stream.write(line + "\n")
        self.stream.flush()


def _print_text(comparisons: list[Comparison], out: TextIO) -> None:
    for comparison in comparisons:
        out.write(
            f"\n## {comparison.body} ({comparison.framing}): {comparison.objects:,} objects, "
            f"{comparison.bytes:,} bytes, median of {comparison.rounds} rounds\n\n"
        )
        out.write(comparison_table(comparison) + "\n")
        for note in comparison.notes:
            out.write(f"note: {note}\n")


def _as_json(comparisons: list[Comparison], args: argparse.Namespace) -> dict[str, Any]:
    return {
        "purai": __version__,
        "machine": machine(),
        "versions": versions(_PEERS),
        "config": {
            "file": args.file,
            "read_sizes": args.read_size,
            "seconds": args.time,
            "type": "any" if args.untyped else "ChatCompletionChunk",
        },
        "bodies": [dataclasses.asdict(c) for c in comparisons],
    }


def run_bench(args: argparse.Namespace) -> int:
    args.read_size = list(dict.fromkeys(args.read_size or DEFAULT_READ_SIZES))
    type_: Any = Any if args.untyped else ChatCompletionChunk
    try:
        bodies = _bodies(args.file)
    except NotBenchmarkable as exc:
        print(f"purai: {exc}", file=sys.stderr)
        return 1
    progress = _Progress(sys.stderr)
    comparisons = []
    for index, body in enumerate(bodies, 1):
        progress.start(body, index, len(bodies))
        try:
            comparison = compare(
                body, args.read_size, args.time / len(bodies), type_=type_, on_round=progress.round
            )
        except CountMismatch as exc:
            print(f"purai: {exc}", file=sys.stderr)
            return 1
        except msgspec.ValidationError as exc:
            print(
                f"purai: {body.name}: its objects are no ChatCompletionChunk ({exc}); "
                "--untyped measures them as dicts and lists",
                file=sys.stderr,
            )
            return 1
        progress.end(comparison)
        comparisons.append(comparison)
    if args.json:
        json.dump(_as_json(comparisons, args), sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        sizes = ", ".join(read_size_label(size) for size in args.read_size)
        print(f"ChunkDecoder beside msgspec's limit and the peers; reads of {sizes}")
        _print_text(comparisons, sys.stdout)
    return 0
