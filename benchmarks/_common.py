"""What every suite shares: machine facts, tables, timing and the results files.

Kept apart from the suites so that each of them reports the same facts about the
machine and the code in the same shape: a number without the revision and the machine
that produced it cannot be compared with anything. It imports no suite; what
``purai bench`` shares with the suites (corpus, peers, measuring, tables) comes from
:mod:`purai_transports.bench`.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from purai_transports.bench.measure import CountMismatch
from purai_transports.bench.report import format_table, machine, versions

__all__ = [
    "RESULTS_DIR",
    "ROOT",
    "CountMismatch",
    "Size",
    "current_rss",
    "format_table",
    "load_results",
    "machine_info",
    "machine_line",
    "median",
    "parse_suite_args",
    "peak_rss",
    "raise_nofile_limit",
    "results_path",
    "save_results",
    "source_revision",
    "timed",
]

#: The checkout: where ``python -m benchmarks`` runs, and what subprocesses import.
ROOT = Path(__file__).resolve().parent.parent
#: Where each suite saves ``<suite>.json`` unless told otherwise.
RESULTS_DIR = Path(__file__).resolve().parent / "results"

_VERSIONED = (
    "msgspec",
    "h11",
    "anyio",
    "trio",
    "openai",
    "pydantic",
    "httpx",
    "httpx2",
    "httpx-sse",
    "aiohttp",
    "requests",
    "httptools",
    "orjson",
    "ijson",
    "matplotlib",
)


def machine_info() -> dict[str, Any]:
    """What the figures depend on: interpreter, CPU, library versions, revision.

    Versions come from the installed metadata, so reporting openai's version does not
    import openai (and its pydantic models) into a suite that does not use it.
    """
    return {**machine(), "purai_revision": source_revision(), **versions(_VERSIONED)}


def source_revision() -> str:
    """The checkout's commit, marked dirty when the code differs from it.

    The decoder changes often; figures are only comparable with the code that made them.
    What a run writes itself (the results files, the charts) does not count: else every
    suite after the first of a run would call the same code dirty.
    """

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True)
        return done.stdout.strip()

    try:
        revision = git("describe", "--always")
        changed = git("status", "--porcelain", "--untracked-files=no", "--", ".", *_WRITTEN_BY_RUNS)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{revision}-dirty" if changed else revision


#: Paths a run of the suites writes, left out of :func:`source_revision`'s check.
_WRITTEN_BY_RUNS = (":(exclude)benchmarks/results", ":(exclude)docs/benchmarks-*.png")


def machine_line(info: dict[str, Any]) -> str:
    """One line naming the machine and the code, printed above every suite's tables."""
    return (
        f"Python {info['python']}, {info['cpu_count']} CPUs ({info['cpu']}), "
        f"msgspec {info['msgspec']}, h11 {info['h11']}, purai {info['purai_revision']}"
    )


def results_path(json_dir: Path, suite: str, quick: bool) -> Path:
    """``<dir>/<suite>.json``, or ``<suite>.quick.json`` for a smoke run.

    A quick run must not overwrite the figures of a full one, which the docs quote.
    """
    return json_dir / (f"{suite}.quick.json" if quick else f"{suite}.json")


def save_results(
    path: Path,
    suite: str,
    config: dict[str, Any],
    rows: Sequence[dict[str, Any]],
    notes: Sequence[str] = (),
    **extra: Any,
) -> None:
    """Write one suite's results: machine, configuration, notes and every row."""
    payload = {
        "suite": suite,
        "machine": machine_info(),
        "config": config,
        "notes": list(dict.fromkeys(notes)),
        "rows": list(rows),
        **extra,
    }
    # Through a temporary file, so that a crash leaves no half file.
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)
    print(f"results saved to {path}")


def load_results(path: Path) -> dict[str, Any] | None:
    """A results file, or None when that suite has not been run yet."""
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data


def timed(fn: Callable[[], int]) -> tuple[float, float, int]:
    """Run ``fn`` after a full collection: (wall seconds, CPU seconds, its count).

    The collection keeps garbage left by the previous run from being collected, and
    billed, in the middle of this one.
    """
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    count = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, count


def _status_kib(field: str) -> int | None:
    """A ``kB`` field of ``/proc/self/status`` in bytes (Linux), or None."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def current_rss() -> int:
    """This process's resident set now; its peak where the current one is unknown."""
    rss = _status_kib("VmRSS")
    return rss if rss is not None else peak_rss()


def peak_rss() -> int:
    """This process's peak resident set.

    ``VmHWM`` where there is one (Linux): ``ru_maxrss`` keeps the peak of the process
    this one was forked from before its ``exec``, so a child of a suite that holds a
    large corpus would report the suite's size. Elsewhere ``ru_maxrss`` (KiB on Linux,
    bytes on macOS).
    """
    hwm = _status_kib("VmHWM")
    if hwm is not None:
        return hwm
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def median(values: Sequence[float]) -> float:
    """The median: robust to the one slow run a busy 2-core machine always has."""
    return statistics.median(values)


def raise_nofile_limit() -> tuple[int, int]:
    """Raise the open-files soft limit to the hard limit; return (soft, hard) after.

    A thousand concurrent streams need a thousand sockets, past many systems' default
    soft limit of 1024.
    """
    try:
        import resource
    except ImportError:  # pragma: no cover - not on POSIX
        return (-1, -1)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return soft, hard


@dataclass(frozen=True)
class Size:
    """A suite's size option: its default, its default with ``--quick``, its least value."""

    full: int
    quick: int
    help: str
    minimum: int = 1


def parse_suite_args(
    suite: str,
    description: str,
    argv: list[str] | None,
    sizes: Mapping[str, Size],
    hidden: Callable[[argparse.ArgumentParser], None] | None = None,
) -> argparse.Namespace:
    """A suite's options: its sizes, ``--quick`` and ``--json`` (what ``run.py`` passes
    every suite), and ``hidden`` ones for its own use.

    A size left out takes its ``--quick`` default in a quick run, else its full one.
    """
    parser = argparse.ArgumentParser(prog=f"python -m benchmarks.{suite}", description=description)
    for name, size in sizes.items():
        option = "--" + name.replace("_", "-")
        defaults = (
            f"{size.full:,}" if size.full == size.quick else f"{size.full:,}; quick {size.quick:,}"
        )
        parser.add_argument(option, type=int, help=f"{size.help} ({defaults})")
    parser.add_argument("--quick", action="store_true", help="a smoke run: the quick sizes")
    default_json = RESULTS_DIR / f"{suite}.json"
    parser.add_argument("--json", type=Path, default=default_json, help="where to save results")
    if hidden is not None:
        hidden(parser)
    args = parser.parse_args(argv)
    for name, size in sizes.items():
        if getattr(args, name) is None:
            setattr(args, name, size.quick if args.quick else size.full)
        if getattr(args, name) < size.minimum:
            parser.error(f"--{name.replace('_', '-')} must be at least {size.minimum}")
    return args
