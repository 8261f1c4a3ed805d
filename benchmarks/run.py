"""``python -m benchmarks``: every suite, or some, from one entry point.

Usage::

    python -m benchmarks [--quick] [--suite decoder|e2e|breakdown|memory|concurrency|all]
                         [--json-dir DIR] [--no-charts]

All suites by default (a few minutes on a 2-core machine); ``--quick`` is a smoke run
of under a minute. Each suite also runs alone (``python -m benchmarks.e2e`` ...) with
options of its own. (``purai bench``, which works from any install, is the decoder
comparison alone, measured by the same code: :mod:`purai_transports.bench`.)

Results go to ``DIR/<suite>.json`` (``benchmarks/results/`` by default), or to
``<suite>.quick.json`` for a quick run, so that a smoke run never replaces the figures
the docs quote. After a full run of the decoder or end-to-end suite, the charts in
``docs/`` are redrawn (when matplotlib is installed).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

from ._common import RESULTS_DIR, results_path

__all__ = ["SUITES", "main"]

#: Every suite, in the order they run: fastest and most basic first.
SUITES = ("decoder", "e2e", "breakdown", "memory", "concurrency")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The options; ``--suite`` may be given several times."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="purai's benchmarks: decoder, end to end, breakdown, memory, concurrency.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run of every suite, under a minute"
    )
    parser.add_argument(
        "--suite",
        action="append",
        choices=(*SUITES, "all"),
        help="the suite to run (repeatable; default: all)",
    )
    parser.add_argument(
        "--json-dir",
        type=Path,
        default=RESULTS_DIR,
        help=f"where results are saved (default: {RESULTS_DIR})",
    )
    parser.add_argument(
        "--no-charts", action="store_true", help="do not redraw docs/benchmarks-*.png"
    )
    args = parser.parse_args(argv)
    chosen = args.suite or ["all"]
    args.suites = list(SUITES) if "all" in chosen else list(dict.fromkeys(chosen))
    return args


def run_suite(name: str, quick: bool, json_dir: Path) -> int:
    """One suite through its own ``run(argv)``; its exit status."""
    module = importlib.import_module(f"benchmarks.{name}")
    argv = ["--json", str(results_path(json_dir, name, quick))]
    if quick:
        argv.append("--quick")
    status: int = module.run(argv)
    return status


def main(argv: list[str] | None = None) -> int:
    """Run the suites ``argv`` asks for; 0 when every suite completed, 1 otherwise.

    A suite fails when a client loses or invents chunks (or crashes), never because of
    a number: benchmarks report, they do not judge.
    """
    args = parse_args(argv)
    started = time.perf_counter()
    spent: dict[str, float] = {}
    failed: list[str] = []
    for name in args.suites:
        suite_start = time.perf_counter()
        try:
            status = run_suite(name, args.quick, args.json_dir)
        except Exception as exc:  # one broken suite must not hide the others' results
            print(f"\nFAILED: suite {name}: {exc!r}", file=sys.stderr)
            status = 1
        spent[name] = time.perf_counter() - suite_start
        if status:
            failed.append(name)
    print()
    if args.no_charts:
        pass
    elif args.quick:
        print("charts not redrawn: they show full runs only (python -m benchmarks.plots)")
    elif {"decoder", "e2e"} & set(args.suites):
        from .plots import draw

        for line in draw(args.json_dir):
            print(line)
    times = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in spent.items())
    print(f"done in {time.perf_counter() - started:.0f} s ({times})")
    if failed:
        print(f"FAILED suites: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0
