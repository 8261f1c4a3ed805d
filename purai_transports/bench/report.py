"""How results are shown: Markdown tables, and the facts a figure depends on.

Markdown, so that the output can go into docs (``docs/benchmarks.md``) unchanged.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from .compare import Comparison

__all__ = ["comparison_table", "cpu_model", "format_table", "machine", "versions"]


def format_table(header: Sequence[str], lines: Sequence[Sequence[str]], left: int = 1) -> str:
    """A Markdown table: the first ``left`` columns (names) aligned left, the rest
    (numbers) right."""
    widths = [max(len(line[i]) for line in [header, *lines]) for i in range(len(header))]

    def fmt(cells: Sequence[str]) -> str:
        padded = [
            c.ljust(w) if i < left else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "| " + " | ".join(padded) + " |"

    rule = "| " + " | ".join("-" * w for w in widths) + " |"
    return "\n".join([fmt(header), rule, *(fmt(line) for line in lines)])


def comparison_table(comparison: Comparison) -> str:
    """One body's rows: MB/s, objects/s, the ratio to the limit and to each peer."""
    peers = list(dict.fromkeys(p for row in comparison.rows for p in row.ratio_to_peer))
    header = ("approach", "feed", "MB/s", "objects/s", "x limit", *(f"x {p}" for p in peers))
    lines = [
        (
            row.approach,
            row.feed,
            f"{row.mb_s:.1f}",
            f"{row.objects_per_s:,.0f}",
            f"{row.ratio_to_limit:.2f}",
            *(f"{row.ratio_to_peer[p]:.2f}" for p in peers),
        )
        for row in comparison.rows
    ]
    return format_table(header, lines, left=2)


def cpu_model() -> str:
    """The CPU's name from /proc/cpuinfo where there is one (Linux), else platform's."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def versions(names: Iterable[str]) -> dict[str, str | None]:
    """Each distribution's installed version, None when it is not installed.

    Read from the installed metadata, so naming a version imports nothing.
    """
    found: dict[str, str | None] = {}
    for name in names:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    return found


def machine() -> dict[str, Any]:
    """The interpreter and the CPU the figures were measured on."""
    info: dict[str, Any] = {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
    }
    if hasattr(os, "sched_getaffinity"):
        info["cpus_usable"] = len(os.sched_getaffinity(0))
    return info
