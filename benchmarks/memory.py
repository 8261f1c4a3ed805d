"""Peak memory over a long stream: does the client's footprint grow with the stream?

Usage::

    python -m benchmarks.memory [--quick] [--bytes N] [--json PATH]

The performance guide asks that peak RSS over a long stream not grow with its length
(the issue's target: flat over a gigabyte, the peak within 50 MB of the start).

Why it is built this way:

* Each measurement runs in a fresh subprocess (``--child``): RSS is per process and
  its peak only ever rises, so the benchmark's own corpus, results and earlier runs
  must not be in it.
* The replay server (:mod:`benchmarks.replay`, another process) produces the long
  stream on the fly by cycling a 2,000-object corpus, so it never holds the gigabyte
  either.
* The child warms up first (a short stream: imports done, caches and pools filled),
  collects garbage, and only then takes its starting RSS; it resets the kernel's
  high-water mark there when it can (``/proc/self/clear_refs``), so the peak is the
  stream's own. It samples RSS every 32,768 chunks and reads the peak (``VmHWM``,
  which unlike ``ru_maxrss`` does not keep the size of the process it was forked
  from) at the end: a transient spike between samples still counts.
* The client is measured as it is used by default: ``ChunkStream`` keeps the
  completion (a ``StreamAccumulator`` holding every piece of text). When the client
  has an ``accumulate`` switch, the suite measures it off too. ``ChunkDecoder`` alone
  over the same bytes (64 KiB reads) shows what the protocol core holds.
"""

from __future__ import annotations

import argparse
import gc
import inspect
import json
import math
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any

from purai_transports.bench.corpus import DEFAULT_SEED, realistic

from ._common import (
    ROOT,
    Size,
    current_rss,
    format_table,
    machine_info,
    machine_line,
    parse_suite_args,
    peak_rss,
    save_results,
)
from .replay import ReplayServer, chunked

__all__ = ["run"]

DEFAULT_BYTES = 1_000_000_000
QUICK_BYTES = 100_000_000
CYCLE_OBJECTS = 2_000
SAMPLE_EVERY = 32_768
FLAT_MB = 50
MB = 1e6


@dataclass
class Row:
    """One measured process, as saved to JSON."""

    run: str
    bytes_streamed: int
    chunks: int
    seconds: float
    start_rss: int
    peak_rss: int
    end_rss: int
    growth: int
    growth_per_chunk: float  # while streaming: the slope, before the stream's end
    flat: bool
    samples: list[tuple[int, int]]


# --- the child: one measured process ------------------------------------------------


def reset_peak() -> bool:
    """Reset the kernel's RSS high-water mark to the current RSS (Linux 4.0+)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
    except OSError:
        return False
    return True


class Sampler:
    """RSS samples along the stream, the starting RSS, and the peak."""

    def __init__(self) -> None:
        gc.collect()
        self.start = current_rss()
        self.reset = reset_peak()
        self.samples: list[tuple[int, int]] = [(0, self.start)]

    def sample(self, chunks: int) -> None:
        self.samples.append((chunks, current_rss()))

    def report(self, chunks: int, seconds: float) -> dict[str, Any]:
        end = current_rss()
        self.samples.append((chunks, end))
        peak = max(peak_rss() if self.reset else 0, *(rss for _, rss in self.samples))
        return {
            "chunks": chunks,
            "seconds": seconds,
            "start_rss": self.start,
            "peak_rss": peak,
            "end_rss": end,
            "peak_reset": self.reset,
            "samples": _thin(self.samples, 40),
        }


def _thin(samples: list[tuple[int, int]], most: int) -> list[tuple[int, int]]:
    if len(samples) <= most:
        return samples
    step = math.ceil(len(samples) / most)
    thinned = samples[::step]
    return thinned if thinned[-1] == samples[-1] else [*thinned, samples[-1]]


def child_client(url: str, cycles: int, accumulate: bool | None) -> dict[str, Any]:
    """The blocking client reading ``cycles`` times the corpus as one stream."""
    from purai_transports.blocking import Client

    options: dict[str, Any] = {} if accumulate is None else {"accumulate": accumulate}
    messages = [{"role": "user", "content": "a long stream"}]
    with Client(url, api_key="bench", timeout=60) as client:
        warmup = f"/openai/chat/completions?objects={CYCLE_OBJECTS}"
        with client.stream(model="bench", messages=messages, path=warmup, **options) as stream:
            for _ in stream:
                pass
        del stream
        sampler = Sampler()
        started = time.perf_counter()
        n = 0
        with client.stream(
            model="bench",
            messages=messages,
            path=f"/openai/chat/completions?cycles={cycles}",
            **options,
        ) as stream:
            for _ in stream:
                n += 1
                if not n % SAMPLE_EVERY:
                    sampler.sample(n)
        return sampler.report(n, time.perf_counter() - started)


def child_decoder(cycles: int) -> dict[str, Any]:
    """``ChunkDecoder`` alone, fed the same bytes in 64 KiB pieces, ``cycles`` times.

    The pieces of one corpus are kept and fed again each cycle (the last one of each
    cycle is shorter), so the benchmark itself holds one corpus, not the stream.
    """
    from purai_proto import ChatCompletionChunk, ChunkDecoder

    block = b"".join(realistic(CYCLE_OBJECTS))
    size = 64 * 1024
    pieces = [block[i : i + size] for i in range(0, len(block), size)]

    def feed_cycles(
        decoder: ChunkDecoder[ChatCompletionChunk], n_cycles: int, sampler: Sampler | None
    ) -> int:
        feed = decoder.feed
        n = 0
        next_sample = SAMPLE_EVERY
        for _ in range(n_cycles):
            for piece in pieces:
                n += len(feed(piece))
            if sampler is not None and n >= next_sample:
                sampler.sample(n)
                next_sample += SAMPLE_EVERY
        return n + len(decoder.close())

    feed_cycles(ChunkDecoder(ChatCompletionChunk, framing="concatenated"), 1, None)
    sampler = Sampler()
    started = time.perf_counter()
    decoder = ChunkDecoder(ChatCompletionChunk, framing="concatenated")
    n = feed_cycles(decoder, cycles, sampler)
    return sampler.report(n, time.perf_counter() - started)


# --- the parent ---------------------------------------------------------------------


def client_has_accumulate_switch() -> bool:
    """True once ``Client.stream`` takes ``accumulate`` (not just any ``**fields``)."""
    from purai_transports.blocking import Client

    return "accumulate" in inspect.signature(Client.stream).parameters


def run_child(args: list[str], timeout: float) -> dict[str, Any]:
    """One measured subprocess; its report."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.memory", "--child", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"memory child {args} failed:\n{done.stderr}")
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def to_row(name: str, report: dict[str, Any], bytes_streamed: int, chunks: int) -> Row:
    """A table row from a child's report; checks that every chunk arrived."""
    if report["chunks"] != chunks:
        raise RuntimeError(f"{name}: {report['chunks']} chunks arrived, {chunks} were sent")
    growth = report["peak_rss"] - report["start_rss"]
    return Row(
        run=name,
        bytes_streamed=bytes_streamed,
        chunks=chunks,
        seconds=report["seconds"],
        start_rss=report["start_rss"],
        peak_rss=report["peak_rss"],
        end_rss=report["end_rss"],
        growth=growth,
        growth_per_chunk=_slope(report["samples"]),
        flat=growth <= FLAT_MB * MB,
        samples=[tuple(s) for s in report["samples"]],
    )


def _slope(samples: list[list[int]]) -> float:
    """RSS growth per chunk while streaming: from the start to the last sample taken
    before the stream's end.

    The end is left out on purpose: there the client builds the completion, a one-off
    step, and the slope is what says whether memory grows with the stream's length.
    """
    during = [s for s in samples[1:] if s[0] < samples[-1][0]]
    if not during:
        return 0.0
    chunks, rss = during[-1]
    return max(rss - samples[0][1], 0) / chunks


def table(rows: list[Row]) -> str:
    """The results as Markdown."""
    header = (
        "run",
        "streamed",
        "chunks",
        "MB/s",
        "start RSS",
        "peak RSS",
        "growth",
        "growth per chunk while streaming",
        f"flat (< {FLAT_MB} MB)",
    )
    lines = [
        (
            r.run,
            f"{r.bytes_streamed / MB:,.0f} MB",
            f"{r.chunks:,}",
            f"{r.bytes_streamed / r.seconds / MB:.0f}",
            f"{r.start_rss / MB:.1f} MB",
            f"{r.peak_rss / MB:.1f} MB",
            f"{r.growth / MB:+.1f} MB",
            f"{r.growth_per_chunk:.1f} B",
            "yes" if r.flat else "NO",
        )
        for r in rows
    ]
    return format_table(header, lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Options; the hidden ones (``--child`` ...) are for the measured subprocess."""
    return parse_suite_args(
        "memory",
        "Peak RSS of the blocking client and of ChunkDecoder over a long stream.",
        argv,
        {"bytes": Size(DEFAULT_BYTES, QUICK_BYTES, "stream length in bytes")},
        hidden=_child_options,
    )


def _child_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--child", choices=("client", "decoder"), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--cycles", type=int, help=argparse.SUPPRESS)
    parser.add_argument(
        "--accumulate", choices=("default", "on", "off"), default="default", help=argparse.SUPPRESS
    )


def child_main(args: argparse.Namespace) -> int:
    """The measured subprocess: print one JSON report on stdout."""
    if args.child == "client":
        accumulate = {"default": None, "on": True, "off": False}[args.accumulate]
        report = child_client(args.url, args.cycles, accumulate)
    else:
        report = child_decoder(args.cycles)
    print(json.dumps(report))
    return 0


def run(argv: list[str] | None = None) -> int:
    """Run the suite with command-line ``argv``; return the process exit status."""
    args = parse_args(argv)
    if args.child:
        return child_main(args)
    objects = realistic(CYCLE_OBJECTS)
    body = chunked(objects)
    cycles = max(1, math.ceil(args.bytes / len(body)))
    streamed = cycles * len(body)
    chunks = cycles * CYCLE_OBJECTS
    print(
        f"\n## Memory: {streamed / MB:,.0f} MB in one stream "
        f"({chunks:,} chunks, the {CYCLE_OBJECTS:,}-object corpus {cycles} times)"
    )
    print(machine_line(machine_info()))
    notes: list[str] = []
    timeout = 60 + streamed / 5e6  # far beyond the slowest plausible run (5 MB/s)
    rows: list[Row] = []
    with ReplayServer(objects, "process") as server:
        runs = [("blocking Client (accumulates, the default)", "default")]
        if client_has_accumulate_switch():
            runs.append(("blocking Client, accumulate=False", "off"))
        else:
            notes.append("Client.stream has no accumulate switch yet: only the default measured")
        for name, accumulate in runs:
            report = run_child(
                [
                    "client",
                    "--url",
                    server.url,
                    "--cycles",
                    str(cycles),
                    "--accumulate",
                    accumulate,
                ],
                timeout,
            )
            rows.append(to_row(name, report, streamed, chunks))
            print(f"  {name}: done", file=sys.stderr, flush=True)
    report = run_child(["decoder", "--cycles", str(cycles)], timeout)
    decoded = cycles * sum(map(len, objects))
    rows.append(to_row("ChunkDecoder alone, 64 KiB feeds (no HTTP)", report, decoded, chunks))
    if not all(r.samples and report.get("peak_reset", True) for r in rows):
        notes.append("the RSS high-water mark could not be reset: peaks include the warm-up")
    print(table(rows))
    for note in notes:
        print(f"note: {note}")
    config = {
        "bytes": args.bytes,
        "cycles": cycles,
        "cycle_objects": CYCLE_OBJECTS,
        "seed": DEFAULT_SEED,
        "corpus": "realistic",
        "sample_every_chunks": SAMPLE_EVERY,
        "flat_if_growth_below_bytes": FLAT_MB * MB,
    }
    save_results(args.json, "memory", config, [asdict(r) for r in rows], notes)
    return 0


if __name__ == "__main__":
    raise SystemExit(run())
