"""Ways to cut a byte stream into pieces, for feeding incremental parsers.

HTTP gives no meaning to where a body is cut, so every incremental test feeds its
input whole, one byte at a time, and at random points; results must not differ.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

__all__ = ["all_two_piece_splits", "random_splits", "split_ways"]


def random_splits(data: bytes, seed: int, max_piece: int = 64) -> list[bytes]:
    """``data`` cut at random points into pieces of 1 to ``max_piece`` bytes."""
    rng = random.Random(seed)
    pieces, pos = [], 0
    while pos < len(data):
        step = rng.randint(1, max_piece)
        pieces.append(data[pos : pos + step])
        pos += step
    return pieces


def split_ways(data: bytes, seeds: int = 3) -> Iterator[tuple[str, list[bytes]]]:
    """Name and pieces of each way to feed ``data``: whole, byte by byte, random."""
    yield "whole", [data]
    yield "bytewise", [data[i : i + 1] for i in range(len(data))]
    for seed in range(seeds):
        yield f"random-{seed}", random_splits(data, seed)


def all_two_piece_splits(data: bytes) -> Iterator[list[bytes]]:
    """``data`` cut in two at every offset."""
    for i in range(1, len(data)):
        yield [data[:i], data[i:]]
