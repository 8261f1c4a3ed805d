"""``ChunkDecoder`` on one body beside msgspec's limit and the installed peers.

The rows, for a body of any framing:

* **the limit**: msgspec decoding each object into the same type when someone has
  found every boundary for free (one ``decode`` call per object, results dropped as
  they come). Every row's ``ratio_to_limit`` is its rate over this one's.
* **ChunkDecoder**, ``framing="auto"`` as a client uses it, fed the body in pieces of
  each read size.
* **the peers** that are installed and can read the framing: the standard library's
  ``json``, ijson (not for SSE, which it cannot read) and orjson (per object, the
  boundaries given). Every row also gets its ratio to each peer (to the peer's
  fastest row, when it has several).

A peer that fails on a captured body, or gets another count than the decoder, is
left out with a note; the decoder failing on it is an error.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from purai_proto import ChatCompletionChunk

from .bodies import Body, cut
from .measure import Case, CountMismatch, Rate, rates, run_rounds, time_once
from .peers import chunk_decoder_fn, ijson_fn, json_fn, load_ijson, load_orjson, per_object_fn

__all__ = ["LIMIT", "Comparison", "Row", "compare", "read_size_label"]

LIMIT = "msgspec, boundaries given (the limit)"
DECODER = "ChunkDecoder (auto)"


@dataclass(frozen=True)
class Row:
    """One line of a comparison, as ``--json`` prints it."""

    approach: str
    feed: str
    median_s: float
    mb_s: float
    objects_per_s: float
    ratio_to_limit: float
    #: This row's rate over each peer's, by the peer's short name.
    ratio_to_peer: dict[str, float]


@dataclass
class Comparison:
    """Every row for one body, and what was left out."""

    body: str
    framing: str
    bytes: int
    objects: int
    rounds: int
    rows: list[Row]
    notes: list[str] = field(default_factory=list)


def read_size_label(size: int) -> str:
    """``16384`` as ``16 KiB``; sizes that are no whole KiB in bytes."""
    return f"{size // 1024} KiB" if size % 1024 == 0 else f"{size} B"


Peer = tuple[str, Case]  # a peer's short name (a ratio column) and one of its cases


def _peers(body: Body, read_sizes: Sequence[int], notes: list[str]) -> list[Peer]:
    """The installed peers' cases that can read ``body``'s framing."""
    json_name, json_count = json_fn(body.text, body.framing)
    peers = [("json", Case(json_name, json_count, "whole text"))]
    ijson, ijson_name = load_ijson()
    if ijson is None:
        notes.append(f"ijson skipped: {ijson_name}")
    elif body.framing == "sse":
        notes.append("ijson skipped: it reads no server-sent events")
    else:
        array = body.framing == "json-array"
        for size in read_sizes:
            fn = ijson_fn(ijson, body.data, size, array=array)
            peers.append(("ijson", Case(f"ijson items ({ijson_name})", fn, read_size_label(size))))
    orjson, orjson_name = load_orjson()
    if orjson is None:
        notes.append(f"orjson skipped: {orjson_name}")
    else:
        loads = per_object_fn(orjson.loads, body.objects)
        peers.append(("orjson", Case("orjson.loads per object (dicts)", loads, "pre-split")))
    return peers


def _checked(peers: list[Peer], expected: int, notes: list[str]) -> list[Peer]:
    """The peers that decode the body to the right count; a note for each other one.

    This run is also every peer's warm-up.
    """
    kept = []
    for peer, case in peers:
        try:
            time_once(case, expected)
        except CountMismatch as exc:
            notes.append(f"{peer} left out: {exc}")
        except Exception as exc:  # a peer's own error on bytes it cannot read
            notes.append(f"{peer} left out: {case.name} failed: {exc!r}")
        else:
            kept.append((peer, case))
    return kept


def _row(rate: Rate, objects: int, peer_rates: dict[str, float]) -> Row:
    return Row(
        approach=rate.name,
        feed=rate.feed,
        median_s=rate.median_s,
        mb_s=rate.mb_s,
        objects_per_s=objects / rate.median_s,
        ratio_to_limit=rate.ratio,
        ratio_to_peer={peer: rate.mb_s / mb_s for peer, mb_s in peer_rates.items()},
    )


def compare(
    body: Body,
    read_sizes: Sequence[int],
    seconds: float,
    *,
    type_: Any = ChatCompletionChunk,
    on_round: Callable[[int], None] | None = None,
) -> Comparison:
    """Time every row on ``body`` for about ``seconds``, round-robin; the results.

    Raises:
        CountMismatch: The limit or the decoder decoded another count than the body
            holds.
        purai_proto.RemoteProtocolError, msgspec.ValidationError: They cannot decode it.
    """
    notes: list[str] = []
    n = len(body.objects)
    typed = msgspec.json.Decoder(type_).decode
    ours = [Case(LIMIT, per_object_fn(typed, body.objects), "pre-split")]
    ours += [
        Case(DECODER, chunk_decoder_fn(cut(body.data, size), "auto", type_), read_size_label(size))
        for size in read_sizes
    ]
    for case in ours:
        time_once(case, n)  # the count checked, and a warm-up
    peers = _checked(_peers(body, read_sizes, notes), n, notes)
    cases = ours + [case for _, case in peers]
    rounds = run_rounds(cases, n, seconds=seconds, on_round=on_round)
    measured = rates(cases, len(body.data))
    # Each peer is compared at its best: its fastest feed.
    peer_rates: dict[str, float] = {}
    for (peer, _), rate in zip(peers, measured[len(ours) :], strict=True):
        peer_rates[peer] = max(rate.mb_s, peer_rates.get(peer, 0.0))
    rows = [_row(rate, n, peer_rates) for rate in measured]
    return Comparison(body.name, body.framing, len(body.data), n, rounds, rows, notes)
