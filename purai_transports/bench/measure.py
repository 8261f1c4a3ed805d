"""How things are timed: round-robin repeats, medians, counts checked, ratios.

* Absolute figures drift between runs and machines; only ratios measured in one
  process, on the same bytes, mean anything. So every row of a comparison runs here,
  in turn, and reports its rate over a reference's (the first case: the limit).
* Repeats go round-robin over the cases rather than one case at a time, so a slow
  spell of the machine (another process, CPU frequency) spreads over every row
  instead of skewing one; each row reports the median.
* A ratio is the median of the ratios taken round by round (:func:`paired_ratio`),
  not the ratio of two medians: a round lasts about a second, while this machine's
  speed drifts by up to 2x over minutes, and a ratio of medians taken over a whole
  run carries that drift (a decoder row once came out at 1.07x the limit it cannot
  beat).
* ``gc.collect()`` before each timing, so garbage left by one run is not collected,
  and billed, in the middle of the next.
* Every run counts what it decoded: a case that loses or invents values raises
  :class:`CountMismatch` instead of scoring well.
* Nothing here judges a number; tests check behaviour, never time.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

__all__ = ["Case", "CountMismatch", "Rate", "paired_ratio", "rates", "run_rounds", "time_once"]


class CountMismatch(Exception):
    """A case decoded something other than what was sent: the run must not go on."""


@dataclass
class Case:
    """One thing to time: ``fn`` decodes a whole body and returns its count.

    ``feed`` says how it is fed (a read size, "pre-split", ...); ``times`` collects
    the timed runs' seconds.
    """

    name: str
    fn: Callable[[], int]
    feed: str = ""
    times: list[float] = field(default_factory=list)


def time_once(case: Case, expected: int) -> float:
    """Run ``case`` once after a full collection; its seconds, its count checked."""
    gc.collect()
    start = time.perf_counter()
    count = case.fn()
    seconds = time.perf_counter() - start
    if count != expected:
        where = f"{case.name}, {case.feed}" if case.feed else case.name
        raise CountMismatch(f"{where}: decoded {count} values, expected {expected}")
    return seconds


def run_rounds(
    cases: Sequence[Case],
    expected: int | Mapping[str, int],
    *,
    repeat: int | None = None,
    seconds: float | None = None,
    on_round: Callable[[int], None] | None = None,
) -> int:
    """Time every case in turn, round after round; return how many rounds were timed.

    Rounds stop after ``repeat`` of them, or once ``seconds`` have passed (at least
    one round either way). ``expected`` is every case's count, or a count per case
    name. ``on_round`` is told each round's number as it ends (for progress).
    """
    if (repeat is None) == (seconds is None):
        raise ValueError("give repeat or seconds, not both")
    deadline = None if seconds is None else time.perf_counter() + seconds
    done = 0
    while True:
        for case in cases:
            want = expected if isinstance(expected, int) else expected[case.name]
            case.times.append(time_once(case, want))
        done += 1
        if on_round is not None:
            on_round(done)
        if done == repeat or (deadline is not None and time.perf_counter() >= deadline):
            return done


@dataclass(frozen=True)
class Rate:
    """One case's median run and its rate, and that rate over the reference's."""

    name: str
    feed: str
    median_s: float
    mb_s: float
    ratio: float


def paired_ratio(reference: Sequence[float], times: Sequence[float]) -> float:
    """How many times faster than the reference: the median over the rounds of the
    reference's seconds over the case's seconds in the same round."""
    return statistics.median(ref / t for ref, t in zip(reference, times, strict=True))


def rates(cases: Sequence[Case], size: int) -> list[Rate]:
    """Each case's median and MB/s over ``size`` bytes, and its rate over the first
    case's, paired round by round."""
    reference = cases[0].times
    out = []
    for case in cases:
        median = statistics.median(case.times)
        ratio = paired_ratio(reference, case.times)
        out.append(Rate(case.name, case.feed, median, size / median / 1e6, ratio))
    return out
