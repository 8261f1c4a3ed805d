"""Many concurrent streams on one event loop: throughput, CPU per chunk, nothing lost.

Usage::

    python -m benchmarks.concurrency [--quick] [--streams N] [--chunks N] [--rounds R]
                                     [--json PATH]

A thousand short streams (20 chunks each) run at once on one event loop, on asyncio
(AsyncClient), on trio through anyio (AsyncClient) and on native trio (TrioClient),
against the replay server (:mod:`benchmarks.replay`) in its own process. Each round
starts every stream together and waits for all of them; each stream counts its chunks,
and a round in which any stream got a different number fails the suite.

Why it is built this way:

* The server is another process, so the client process's CPU time
  (``time.process_time``) is the client's alone: CPU microseconds per chunk is the
  figure that says what a thousand streams cost, independent of how busy the server
  or the machine was.
* The first round opens a thousand connections (connect, accept); later rounds reuse
  them (``max_keepalive`` is as large as the number of streams), as a long-running
  application would. Both are reported: cold is the first round, warm the median of
  the others.
* The client needs ``max_connections`` of at least the number of streams, and the
  process needs as many file descriptors: the soft limit is raised to the hard one.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any

from purai_transports.bench.corpus import DEFAULT_SEED, realistic

from ._common import (
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

DEFAULT_STREAMS = 1_000
DEFAULT_CHUNKS = 20
DEFAULT_ROUNDS = 6
QUICK_ROUNDS = 3
MESSAGES = [{"role": "user", "content": "one of many"}]


@dataclass
class Round:
    """One round: every stream started together, all finished."""

    wall: float
    cpu: float
    chunks: int


@dataclass
class Row:
    """One line of the table, as saved to JSON."""

    client: str
    rounds: str
    streams: int
    chunks: int
    wall_s: float
    chunks_per_s: float
    cpu_s: float
    cpu_us_per_chunk: float
    cpu_us_per_stream: float
    cpu_share: float
    all_arrived: bool


async def _round(client: Any, streams: int, path: str, expected: int) -> Round:
    """Run ``streams`` streams at once on this loop; check every one's count."""
    import anyio

    counts = [0] * streams

    async def one(i: int) -> None:
        n = 0
        async with client.stream(model="bench", messages=MESSAGES, path=path) as stream:
            async for _ in stream:
                n += 1
        counts[i] = n

    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    async with anyio.create_task_group() as tg:
        for i in range(streams):
            tg.start_soon(one, i)
    result = Round(time.perf_counter() - wall, time.process_time() - cpu, sum(counts))
    short = [i for i, n in enumerate(counts) if n != expected]
    if short:
        raise CountMismatch(
            f"{len(short)} of {streams} streams got a wrong number of chunks "
            f"(stream {short[0]}: {counts[short[0]]}, expected {expected})"
        )
    return result


async def _rounds(
    client_type: Any, url: str, streams: int, chunks: int, rounds: int
) -> list[Round]:
    """Every round on one client, so that the rounds after the first reuse connections."""
    path = f"/openai/chat/completions?objects={chunks}"
    async with client_type(
        url,
        api_key="bench",
        max_connections=streams,
        max_keepalive=streams,
        keepalive_expiry=600.0,
        timeout=60.0,
    ) as client:
        return [await _round(client, streams, path, chunks) for _ in range(rounds)]


def run_client(name: str, url: str, streams: int, chunks: int, rounds: int) -> list[Round]:
    """All rounds of one client on its event loop."""
    if name == "trio":
        import trio

        from purai_transports.trio import TrioClient

        return trio.run(_rounds, TrioClient, url, streams, chunks, rounds)
    import anyio

    from purai_transports.anyio import AsyncClient

    backend = "trio" if name == "anyio-trio" else "asyncio"
    return anyio.run(_rounds, AsyncClient, url, streams, chunks, rounds, backend=backend)


CLIENTS = {
    "asyncio": "purai AsyncClient (anyio on asyncio)",
    "anyio-trio": "purai AsyncClient (anyio on trio)",
    "trio": "purai TrioClient",
}


def _row(client: str, label: str, rounds: list[Round], streams: int) -> Row:
    wall = median([r.wall for r in rounds])
    cpu = median([r.cpu for r in rounds])
    chunks = rounds[0].chunks
    return Row(
        client=client,
        rounds=label,
        streams=streams,
        chunks=chunks,
        wall_s=wall,
        chunks_per_s=chunks / wall,
        cpu_s=cpu,
        cpu_us_per_chunk=cpu / chunks * 1e6,
        cpu_us_per_stream=cpu / streams * 1e6,
        cpu_share=cpu / wall,
        all_arrived=True,  # a round that lost a chunk raised CountMismatch
    )


def table(rows: list[Row]) -> str:
    """The results as Markdown."""
    header = (
        "client",
        "round",
        "streams",
        "chunks",
        "wall s",
        "chunks/s",
        "CPU s",
        "CPU µs/chunk",
        "CPU µs/stream",
        "all arrived",
    )
    lines = [
        (
            r.client,
            r.rounds,
            f"{r.streams:,}",
            f"{r.chunks:,}",
            f"{r.wall_s:.3f}",
            f"{r.chunks_per_s:,.0f}",
            f"{r.cpu_s:.3f}",
            f"{r.cpu_us_per_chunk:.1f}",
            f"{r.cpu_us_per_stream:,.0f}",
            "yes" if r.all_arrived else "NO",
        )
        for r in rows
    ]
    return format_table(header, lines, left=2)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Options, with ``--quick`` filling in whatever was not given explicitly."""
    return parse_suite_args(
        "concurrency",
        "Many concurrent streams on one event loop, asyncio and trio.",
        argv,
        {
            "streams": Size(DEFAULT_STREAMS, DEFAULT_STREAMS, "streams at once"),
            "chunks": Size(DEFAULT_CHUNKS, DEFAULT_CHUNKS, "chunks per stream"),
            # The first round connects; the others are the warm ones reported.
            "rounds": Size(DEFAULT_ROUNDS, QUICK_ROUNDS, "rounds per client", minimum=2),
        },
    )


def run(argv: list[str] | None = None) -> int:
    """Run the suite with command-line ``argv``; return the process exit status."""
    from .replay import ReplayServer

    args = parse_args(argv)
    soft, hard = raise_nofile_limit()
    notes = [f"open files limit: {soft} (hard {hard})"]
    if 0 < soft < args.streams + 64:
        print(f"FAILED: {args.streams} streams need more open files than {soft}", file=sys.stderr)
        return 1
    objects = realistic(args.chunks)
    print(
        f"\n## Concurrency: {args.streams:,} streams at once, {args.chunks} chunks each, "
        f"{args.rounds} rounds per client"
    )
    print(machine_line(machine_info()))
    rows: list[Row] = []
    with ReplayServer(objects, "process") as server:
        for key, name in CLIENTS.items():
            try:
                rounds = run_client(key, server.url, args.streams, args.chunks, args.rounds)
            except CountMismatch as exc:
                print(f"\nFAILED: {name}: {exc}", file=sys.stderr)
                return 1
            rows.append(_row(name, "cold: connecting", rounds[:1], args.streams))
            rows.append(_row(name, f"warm: median of {len(rounds) - 1}", rounds[1:], args.streams))
            print(f"  {name}: done", file=sys.stderr, flush=True)
    print(table(rows))
    for note in notes:
        print(f"note: {note}")
    config = {
        "streams": args.streams,
        "chunks_per_stream": args.chunks,
        "rounds": args.rounds,
        "seed": DEFAULT_SEED,
        "corpus": "realistic",
    }
    save_results(args.json, "concurrency", config, [asdict(r) for r in rows], notes)
    return 0


if __name__ == "__main__":
    raise SystemExit(run())
