"""What every suite shares: machine facts, tables, timing and the results files.

Kept apart from the suites so that each of them reports the same facts about the
machine and the code in the same shape: a number without the revision and the machine
that produced it cannot be compared with anything.
"""

from __future__ import annotations

import gc
import importlib.metadata
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .decoder import cpu_model, save, source_revision

__all__ = [
    "RESULTS_DIR",
    "ROOT",
    "CountMismatch",
    "format_table",
    "load_results",
    "machine_info",
    "machine_line",
    "median",
    "raise_nofile_limit",
    "results_path",
    "save_results",
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
    info: dict[str, Any] = {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "purai_revision": source_revision(),
    }
    if hasattr(os, "sched_getaffinity"):
        info["cpus_usable"] = len(os.sched_getaffinity(0))
    for name in _VERSIONED:
        try:
            info[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            info[name] = None
    return info


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
    save(path, payload)
    print(f"results saved to {path}")


def load_results(path: Path) -> dict[str, Any] | None:
    """A results file, or None when that suite has not been run yet."""
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data


def format_table(header: Sequence[str], lines: Sequence[Sequence[str]], left: int = 1) -> str:
    """A Markdown table, so the output can go into docs/benchmarks.md unchanged.

    The first ``left`` columns (names) are aligned left, the rest (numbers) right.
    """
    widths = [max(len(line[i]) for line in [header, *lines]) for i in range(len(header))]

    def fmt(cells: Sequence[str]) -> str:
        padded = [
            c.ljust(w) if i < left else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "| " + " | ".join(padded) + " |"

    rule = "| " + " | ".join("-" * w for w in widths) + " |"
    return "\n".join([fmt(header), rule, *(fmt(line) for line in lines)])


def timed(fn: Callable[[], int]) -> tuple[float, float, int]:
    """Run ``fn`` after a full collection: (wall seconds, CPU seconds, its count).

    The collection keeps garbage left by the previous run from being collected, and
    billed, in the middle of this one.
    """
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    count = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, count


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


class CountMismatch(Exception):
    """A client delivered a different number of chunks than were sent: stop the suite.

    A fast wrong answer must fail loudly instead of scoring well.
    """
