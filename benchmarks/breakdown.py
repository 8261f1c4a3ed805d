"""Where the blocking client's time goes, per chunk, layer by layer.

Usage::

    python -m benchmarks.breakdown [--quick] [--objects N] [--repeat R] [--json PATH]

Each layer runs alone on the bytes it sees inside the client, so the figures add up
(roughly: caches and allocation patterns differ when the layers run interleaved):

* **HTTP framing**: h11 alone, and httptools (llhttp, in C) alone, the whole reply
  fed in 64 KiB reads (what one ``recv`` returns), pulling every event. The client
  uses httptools when it is installed (the default), else h11; the rows marked
  "h11 parser" force h11, so the two are compared in one run.
* **decompression**: the same body gzip-compressed with a sync flush after every
  object (as the stand-in server compresses a stream), inflated by one
  ``zlib.decompressobj`` in 64 KiB reads. Only paid when a server compresses.
* **decoding**: :class:`~purai_proto.ChunkDecoder` with the framing the client uses
  (``auto``) fed the body in 64 KiB pieces, as ``ClientConnection`` hands it over
  (all of one read's HTTP chunks joined).
* **ClientConnection**: the sans-IO core, total: 64 KiB reads in, events out. Less
  the framing of its parser and decoding, what is left is its own glue (events, the
  deque, checks).
* **accumulating**: ``StreamAccumulator.add_chunk`` for every chunk, which the
  transports do so that ``completion`` works after a stream.
* **transport**: the blocking client end to end over loopback (replay server in its
  own process) less ``ClientConnection``: socket reads, the exchange generator, the
  runner loop and accumulating. The raw socket floor is the part of it no client
  can avoid.

Medians of the repeats, round-robin, ``gc.collect()`` before each timing; every run
checks its count of chunks.
"""

from __future__ import annotations

import argparse
import sys
import zlib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import h11
import msgspec

from purai_proto import (
    NEED_DATA,
    ChatCompletionChunk,
    ChatRequest,
    ChunkReceived,
    ClientConnection,
    Message,
    StreamAccumulator,
    StreamEnded,
)
from purai_transports.bench.bodies import cut
from purai_transports.bench.corpus import DEFAULT_SEED, realistic
from purai_transports.bench.measure import Case, CountMismatch
from purai_transports.bench.peers import chunk_decoder_fn
from purai_transports.bench.report import format_table

from ._common import Size, machine_info, machine_line, median, parse_suite_args, save_results, timed
from .e2e import PURAI_PATH, blocking_fn, default_parser, floor_fn
from .replay import PURAI_HEAD, ReplayServer, chunked, purai_reply

__all__ = ["run"]

DEFAULT_OBJECTS = 20_000
DEFAULT_REPEAT = 7
QUICK_OBJECTS = 5_000
QUICK_REPEAT = 3
READ = 64 * 1024

_GZIP_HEAD = PURAI_HEAD.replace(b"\r\n\r\n", b"\r\nContent-Encoding: gzip\r\n\r\n", 1)


@dataclass
class Row:
    """One line of the table, as saved to JSON."""

    layer: str
    us_per_chunk: float
    share_of_client: float
    measured: bool  # False: derived from other rows
    times_s: list[float]


def gzip_per_object(objects: Sequence[bytes]) -> list[bytes]:
    """The objects gzip-compressed as one body, flushed after each: one piece each."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    pieces = [compressor.compress(obj) + compressor.flush(zlib.Z_SYNC_FLUSH) for obj in objects]
    pieces[-1] += compressor.flush(zlib.Z_FINISH)
    return pieces


def _request() -> ChatRequest:
    return ChatRequest(model="bench", messages=[Message(role="user", content="hi")], stream=True)


# --- the layers ---------------------------------------------------------------------


def h11_fn(reads: list[bytes]) -> Callable[[], int]:
    """h11 alone: every read in, every event out; returns the body bytes it delivered.

    Not a count of Data events: an HTTP chunk cut by a read comes as two of them.
    """
    request = h11.Request(
        method="POST", target=PURAI_PATH, headers=[("Host", "bench"), ("Content-Length", "0")]
    )

    def fn() -> int:
        conn = h11.Connection(h11.CLIENT)
        conn.send(request)
        conn.send(h11.EndOfMessage())
        receive, next_event = conn.receive_data, conn.next_event
        data_type, need_data, end = h11.Data, h11.NEED_DATA, h11.EndOfMessage
        n = 0
        for piece in reads:
            receive(piece)
            while True:
                event = next_event()
                if event is need_data:
                    break
                if type(event) is data_type:
                    n += len(event.data)
                elif type(event) is end:
                    return n
        return -1

    return fn


def httptools_fn(reads: list[bytes]) -> Callable[[], int] | None:
    """httptools (llhttp, in C) alone framing the same reads, if installed."""
    try:
        import httptools  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None

    class Counter:
        def __init__(self) -> None:
            self.n = 0
            self.done = False

        def on_body(self, body: bytes) -> None:
            self.n += len(body)

        def on_message_complete(self) -> None:
            self.done = True

    def fn() -> int:
        counter = Counter()
        feed = httptools.HttpResponseParser(counter).feed_data
        for piece in reads:
            feed(piece)
        return counter.n if counter.done else -1

    return fn


def find_fn(reads: list[bytes]) -> Callable[[], int]:
    """A sketch, not the library: chunked framing in Python with ``bytes.find``.

    What a hand-written fast path for the body could cost once h11 has parsed the
    head: one ``find`` and one ``int(..., 16)`` per chunk, and each read's chunks
    joined into one piece, as ``ClientConnection`` hands them to the decoder. No
    chunk extensions, trailers or error handling: a lower bound, not a parser.
    """

    def fn() -> int:
        buf = b""  # what the last read left: the start of an unfinished chunk
        in_head = True
        n = 0
        for piece in reads:
            buf += piece
            pos = 0
            if in_head:
                head_end = buf.find(b"\r\n\r\n")
                if head_end < 0:
                    continue
                pos = head_end + 4
                in_head = False
            body: list[bytes] = []
            find = buf.find
            while True:
                eol = find(b"\r\n", pos)
                if eol < 0:
                    break
                size = int(buf[pos:eol], 16)
                end = eol + 2 + size
                if end + 2 > len(buf):
                    break
                if size == 0:
                    return n + sum(map(len, body))
                body.append(buf[eol + 2 : end])
                pos = end + 2
            n += len(b"".join(body))
            buf = buf[pos:]
        return -1

    return fn


def inflate_fn(reads: list[bytes]) -> Callable[[], int]:
    """zlib inflating the gzip body in 64 KiB reads; returns the bytes it produced."""

    def fn() -> int:
        decompress = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress
        return sum(len(decompress(piece)) for piece in reads)

    return fn


def connection_fn(reads: list[bytes], http_parser: str = "auto") -> Callable[[], int]:
    """ClientConnection, sans I/O: the reply in 64 KiB reads, counting chunk events."""
    request = _request()

    def fn() -> int:
        conn = ClientConnection("bench", http_parser=http_parser)  # type: ignore[arg-type]
        conn.send_request(request, path=PURAI_PATH)
        receive, next_event = conn.receive_data, conn.next_event
        n = 0
        for piece in reads:
            receive(piece)
            while True:
                event = next_event()
                if event is NEED_DATA:
                    break
                if type(event) is ChunkReceived:
                    n += 1
                elif type(event) is StreamEnded:
                    return n
        return -1

    return fn


def accumulate_fn(chunks: list[ChatCompletionChunk]) -> Callable[[], int]:
    """StreamAccumulator over every chunk, then the completion built once."""

    def fn() -> int:
        accumulator = StreamAccumulator()
        add = accumulator.add_chunk
        for chunk in chunks:
            add(chunk)
        accumulator.completion()
        return len(chunks)

    return fn


def e2e_fn(measure: Callable[[], tuple[float, float, int]]) -> Callable[[], int]:
    """An end-to-end measurement (which times itself) as a layer: keeps its own timing."""
    seconds: list[float] = []

    def fn() -> int:
        wall, _, count = measure()
        seconds.append(wall)
        return count

    fn.seconds = seconds  # type: ignore[attr-defined]
    return fn


# --- the suite ----------------------------------------------------------------------

CONNECTION = "ClientConnection total (sans-IO), 64 KiB reads"
CONNECTION_H11 = "ClientConnection total, h11 parser"
CLIENT = "blocking Client end to end (loopback)"
CLIENT_H11 = "blocking Client end to end, h11 parser"
H11 = "HTTP framing: h11 alone, 64 KiB reads"
INFLATE = "decompression: zlib, gzip flushed per chunk, 64 KiB reads"
DECODING = "decoding: ChunkDecoder (auto framing), 64 KiB pieces"
ACCUMULATE = "accumulating: StreamAccumulator.add_chunk"
GZIP_CONNECTION = "ClientConnection total, gzip body"
FLOOR = "raw socket read of the same bytes (the floor)"
HTTPTOOLS = "HTTP framing: httptools (llhttp, C) alone, 64 KiB reads"
FIND = "sketch: chunked framing by bytes.find in Python, 64 KiB reads"


def build(objects: list[bytes], url: str, notes: list[str]) -> tuple[list[Case], dict[str, int]]:
    """Every layer, and the count each must return."""
    n = len(objects)
    body = b"".join(objects)
    reply = purai_reply(objects)
    gzip_pieces = gzip_per_object(objects)
    gzip_body = b"".join(gzip_pieces)
    gzip_reply = _GZIP_HEAD + chunked(gzip_pieces) + b"0\r\n\r\n"
    chunks = msgspec.json.Decoder(list[ChatCompletionChunk]).decode(
        b"[" + b",".join(objects) + b"]"
    )
    reads = cut(reply, READ)
    layers = [
        Case(H11, h11_fn(reads)),
        Case(FIND, find_fn(reads)),
        Case(INFLATE, inflate_fn(cut(gzip_body, READ))),
        # The client's framing for this body, fed 64 KiB pieces of it.
        Case(DECODING, chunk_decoder_fn(cut(body, READ), framing="auto")),
        Case(CONNECTION, connection_fn(reads)),
        Case(CONNECTION_H11, connection_fn(reads, "h11")),
        Case(GZIP_CONNECTION, connection_fn(cut(gzip_reply, READ))),
        Case(ACCUMULATE, accumulate_fn(chunks)),
        Case(FLOOR, e2e_fn(floor_fn(url, objects))),
        Case(CLIENT, e2e_fn(blocking_fn(url, PURAI_PATH, n))),
        Case(CLIENT_H11, e2e_fn(blocking_fn(url, PURAI_PATH, n, "h11"))),
    ]
    notes.append(f"the client reads with the {default_parser()} parser unless a row says")
    httptools = httptools_fn(reads)
    if httptools is None:
        notes.append(
            "httptools is not installed: its row is skipped (pip install 'purai[speedups]')"
        )
    else:
        layers.insert(1, Case(HTTPTOOLS, httptools))
    expected = {layer.name: n for layer in layers}
    for name in (INFLATE, H11, HTTPTOOLS, FIND):
        expected[name] = len(body)
    return layers, expected


def measure(layers: list[Case], expected: dict[str, int], repeat: int) -> None:
    """A warm-up round, then ``repeat`` rounds round-robin; every count checked."""
    for round_ in range(repeat + 1):
        for layer in layers:
            wall, _, count = timed(layer.fn)
            if count != expected[layer.name]:
                raise CountMismatch(f"{layer.name}: got {count}, expected {expected[layer.name]}")
            seconds = getattr(layer.fn, "seconds", None)
            if seconds is not None:
                wall = seconds[-1]  # its own timing: without connecting and warming up
            if round_:
                layer.times.append(wall)


def to_rows(layers: list[Case], n: int) -> list[Row]:
    """Microseconds per chunk per layer, and the derived layers."""
    us = {layer.name: median(layer.times) / n * 1e6 for layer in layers}
    client = us[CLIENT]
    rows = [
        Row(layer.name, us[layer.name], us[layer.name] / client, True, layer.times)
        for layer in layers
    ]
    framing = us.get(HTTPTOOLS, us[H11]) if default_parser() == "httptools" else us[H11]
    derived = {
        "ClientConnection's own glue (total - framing - decoding)": us[CONNECTION]
        - framing
        - us[DECODING],
        "ClientConnection's own glue, h11 parser": us[CONNECTION_H11] - us[H11] - us[DECODING],
        "transport (blocking Client - ClientConnection)": client - us[CONNECTION],
        "transport: exchange + runner (transport - floor - accumulating)": client
        - us[CONNECTION]
        - us[FLOOR]
        - us[ACCUMULATE],
    }
    rows += [Row(name, value, value / client, False, []) for name, value in derived.items()]
    return rows


def table(rows: list[Row]) -> str:
    """The results as Markdown."""
    header = ("layer", "µs per chunk", "share of the client")
    lines = [
        (
            r.layer if r.measured else f"*{r.layer}*",
            f"{r.us_per_chunk:.2f}",
            f"{r.share_of_client:.0%}",
        )
        for r in rows
    ]
    return format_table(header, lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Options, with ``--quick`` filling in whatever was not given explicitly."""
    return parse_suite_args(
        "breakdown",
        "Microseconds per chunk in each layer of the blocking client.",
        argv,
        {
            "objects": Size(DEFAULT_OBJECTS, QUICK_OBJECTS, "chunks per stream"),
            "repeat": Size(DEFAULT_REPEAT, QUICK_REPEAT, "timed runs per layer"),
        },
    )


def run(argv: list[str] | None = None) -> int:
    """Run the suite with command-line ``argv``; return the process exit status."""
    args = parse_args(argv)
    objects = realistic(args.objects)
    n = len(objects)
    gzip_size = len(b"".join(gzip_per_object(objects)))
    body_size = sum(map(len, objects))
    notes: list[str] = []
    print(f"\n## Breakdown: {n:,} chunks, {body_size / n:.0f} bytes per object")
    print(machine_line(machine_info()) + f"; median of {args.repeat} runs, round-robin")
    with ReplayServer(objects, "process") as server:
        layers, expected = build(objects, server.url, notes)
        try:
            measure(layers, expected, args.repeat)
        except CountMismatch as exc:
            print(f"\nFAILED: {exc}", file=sys.stderr)
            return 1
    rows = to_rows(layers, n)
    print(table(rows))
    notes += [
        f"gzip with a sync flush per object: {gzip_size / body_size:.0%} of the body's size",
        "derived rows (in italics) are differences of medians, not measurements",
        "the sketch row is not part of the client: what framing in Python could cost",
    ]
    for note in notes:
        print(f"note: {note}")
    config = {
        "objects": n,
        "repeat": args.repeat,
        "seed": DEFAULT_SEED,
        "corpus": "realistic",
        "read_size": READ,
        "body_bytes": body_size,
        "gzip_body_bytes": gzip_size,
    }
    save_results(args.json, "breakdown", config, [asdict(r) for r in rows], notes)
    return 0


if __name__ == "__main__":
    raise SystemExit(run())
