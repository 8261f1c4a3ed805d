"""Many streams at a realistic pace on one event loop: CPU per chunk beside the peers.

Usage::

    python -m benchmarks.concurrency [--quick] [--streams N] [--chunks N] [--every-ms T]
                                     [--rounds R] [--repeats K] [--json PATH]

A hundred streams at once, each of 200 chunks that arrive one every 20 ms (50 chunks/s,
a fast model), read by purai's ``AsyncClient`` on asyncio and on trio, by
``TrioClient``, and beside them by aiohttp and httpx (+ httpx-sse), all decoding the same
server-sent events into ``ChatCompletionChunk`` (:mod:`benchmarks.paced_clients`).
Also the time to the first chunk, on a fresh client and on a pooled connection.

Why it is built this way:

* At this pace a process is mostly idle: what a chunk costs is what one wake-up
  costs (the event loop, the stream layers, the timeouts, the parsing), the cost that
  matters for real traffic. At full load the per-byte costs dominate instead; with
  ``--every-ms 0`` the suite measures that.
* The server (:mod:`benchmarks.replay`) is another process, and so is each client:
  the client process's CPU time (``time.process_time``) is the client's alone, and
  its peak RSS (``ru_maxrss``) is its own, not the suite's or another client's.
* The first round opens the connections and is not measured; the measured rounds
  reuse them, as a long-running application would.
* The children run client after client, ``--repeats`` times over, the order turned
  by one each time (A B C, B C A, C A B), and the table gives each client's median:
  the machine is shared and its speed drifts by up to 2x within minutes. A client's
  ratio to aiohttp is the median, over the repeats, of its run over aiohttp's run in
  the same repeat (a minute apart at most), so that a drift between repeats cancels
  out of the ratio instead of landing in it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass
from typing import Any

from purai_transports.bench.corpus import DEFAULT_SEED, realistic

from ._common import (
    ROOT,
    CountMismatch,
    Size,
    format_table,
    machine_info,
    machine_line,
    median,
    parse_suite_args,
    raise_nofile_limit,
    save_results,
)

__all__ = ["run"]

REFERENCE = "aiohttp"


@dataclass
class Row:
    """One client's line of the table, as saved to JSON."""

    client: str
    streams: int
    chunks: int
    cpu_us_per_chunk: float
    cpu_us_per_chunk_runs: list[float]
    ratio_to_aiohttp: float | None
    peak_rss_mb: float
    wall_s: float
    first_chunk_fresh_ms: float
    first_chunk_pooled_ms: float


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Options; ``--child`` and ``--url`` are for the measured subprocess."""

    def hidden(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--child", help=argparse.SUPPRESS)
        parser.add_argument("--url", help=argparse.SUPPRESS)
        parser.add_argument(
            "--clients",
            default=",".join(_clients()),
            help="the clients to measure, comma-separated (default: all)",
        )

    return parse_suite_args(
        "concurrency",
        "Many streams at a realistic pace on one event loop, beside aiohttp and httpx.",
        argv,
        {
            "streams": Size(100, 20, "streams at once"),
            "chunks": Size(200, 20, "chunks per stream"),
            "every_ms": Size(20, 20, "milliseconds between two chunks of a stream", minimum=0),
            "rounds": Size(2, 1, "measured rounds per child, after the one that connects"),
            "repeats": Size(5, 1, "children per client, interleaved with the others"),
        },
        hidden,
    )


def _clients() -> dict[str, str]:
    from .paced_clients import CLIENTS

    return CLIENTS


def _run_child(name: str, url: str, args: argparse.Namespace) -> dict[str, Any]:
    """One client measured in a subprocess of its own; its report."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    sizes = ["--streams", str(args.streams), "--chunks", str(args.chunks)]
    sizes += ["--every-ms", str(args.every_ms), "--rounds", str(args.rounds)]
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.concurrency", "--child", name, "--url", url, *sizes],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the {name} child failed:\n{done.stderr}")
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    expected = args.streams * args.chunks
    for measured in report["rounds"]:
        if measured["chunks"] != expected:
            raise CountMismatch(f"{name}: {measured['chunks']} of {expected} chunks arrived")
    return report


def _row(name: str, reports: list[dict[str, Any]], args: argparse.Namespace) -> Row:
    chunks = args.streams * args.chunks
    per_chunk = [median([r["cpu"] for r in rep["rounds"]]) / chunks * 1e6 for rep in reports]
    return Row(
        client=_clients()[name],
        streams=args.streams,
        chunks=chunks,
        cpu_us_per_chunk=median(per_chunk),
        cpu_us_per_chunk_runs=per_chunk,
        ratio_to_aiohttp=None,
        peak_rss_mb=median([rep["peak_rss"] for rep in reports]) / 2**20,
        wall_s=median([r["wall"] for rep in reports for r in rep["rounds"]]),
        first_chunk_fresh_ms=median([rep["first_chunk_fresh_s"] for rep in reports]) * 1e3,
        first_chunk_pooled_ms=median([rep["first_chunk_pooled_s"] for rep in reports]) * 1e3,
    )


def table(rows: list[Row]) -> str:
    """The results as Markdown."""
    header = (
        "client",
        "CPU µs/chunk",
        "runs",
        "x aiohttp",
        "peak RSS MB",
        "round s",
        "first chunk, fresh ms",
        "pooled ms",
    )
    lines = [
        (
            r.client,
            f"{r.cpu_us_per_chunk:.1f}",
            " ".join(f"{v:.0f}" for v in r.cpu_us_per_chunk_runs),
            "" if r.ratio_to_aiohttp is None else f"{r.ratio_to_aiohttp:.2f}",
            f"{r.peak_rss_mb:.0f}",
            f"{r.wall_s:.2f}",
            f"{r.first_chunk_fresh_ms:.2f}",
            f"{r.first_chunk_pooled_ms:.2f}",
        )
        for r in rows
    ]
    return format_table(header, lines, left=1)


def run(argv: list[str] | None = None) -> int:
    """Run the suite with command-line ``argv``; return the process exit status."""
    args = parse_args(argv)
    raise_nofile_limit()
    if args.child:
        from .paced_clients import run_child

        print(json.dumps(run_child(args.child, args.url, args)))
        return 0
    from .replay import ReplayServer

    names = [n for n in args.clients.split(",") if n]
    unknown = sorted(set(names) - set(_clients()))
    if unknown:
        print(f"unknown clients: {', '.join(unknown)}", file=sys.stderr)
        return 2
    pace = f"one every {args.every_ms} ms" if args.every_ms else "as fast as they come"
    print(
        f"\n## Concurrency: {args.streams:,} streams at once, {args.chunks} chunks each, "
        f"{pace}; {args.repeats} runs per client of {args.rounds} measured rounds"
    )
    print(machine_line(machine_info()))
    reports: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    with ReplayServer(realistic(args.chunks), "process") as server:
        for repeat in range(args.repeats):
            turn = repeat % len(names)
            for name in names[turn:] + names[:turn]:
                try:
                    reports[name].append(_run_child(name, server.url, args))
                except CountMismatch as exc:
                    print(f"\nFAILED: {exc}", file=sys.stderr)
                    return 1
                print(f"  {name}: run {repeat + 1} done", file=sys.stderr, flush=True)
    rows = [_row(n, reports[n], args) for n in names]
    if REFERENCE in reports:
        reference = _row(REFERENCE, reports[REFERENCE], args).cpu_us_per_chunk_runs
        for row in rows:
            paired = zip(row.cpu_us_per_chunk_runs, reference, strict=True)
            row.ratio_to_aiohttp = median([ours / theirs for ours, theirs in paired])
    print(table(rows))
    config = {
        "streams": args.streams,
        "chunks_per_stream": args.chunks,
        "every_ms": args.every_ms,
        "rounds": args.rounds,
        "repeats": args.repeats,
        "seed": DEFAULT_SEED,
        "corpus": "realistic",
        "framing": "sse",
    }
    save_results(args.json, "concurrency", config, [asdict(r) for r in rows])
    return 0


if __name__ == "__main__":
    raise SystemExit(run())
