"""What making a client costs before its first request, beside the peers' clients.

A short script (and every ``purai chat``) makes one client and sends one request, so
whatever a client builds when it is made, before it is needed, is paid in full every
time. Each measurement is a fresh interpreter: it imports the client's module (not
timed: importing is a cost of its own), then times making the first client, the
figure a script pays, and then 20 more, whose median is the cost once everything lazy
is done. Every client is for an ``http://`` URL that is never connected to.

Run as part of the end-to-end suite (``python -m benchmarks.e2e``), which prints this
table after its own and saves it with its results.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from dataclasses import dataclass

from ._common import ROOT, format_table, median

__all__ = ["CLIENTS", "Construction", "measure", "table"]

#: Client, then the import and the expression that makes one (``URL`` is given).
CLIENTS = {
    "purai blocking Client": (
        "from purai_transports.blocking import Client",
        "Client(URL, api_key='k')",
    ),
    "purai AsyncClient": (
        "from purai_transports.anyio import AsyncClient",
        "AsyncClient(URL, api_key='k')",
    ),
    "purai TrioClient": (
        "from purai_transports.trio import TrioClient",
        "TrioClient(URL, api_key='k')",
    ),
    "openai.OpenAI": ("import openai", "openai.OpenAI(base_url=URL, api_key='k', max_retries=0)"),
    "httpx.Client": ("import httpx", "httpx.Client(base_url=URL)"),
    "requests.Session": ("import requests", "requests.Session()"),
}
LATER = 20

_CHILD = """
{imports}
import json, time
URL = "http://127.0.0.1:9"
start = time.perf_counter()
kept = [{make}]
first = time.perf_counter() - start
later = []
for _ in range({later}):
    start = time.perf_counter()
    kept.append({make})
    later.append(time.perf_counter() - start)
print(json.dumps([first, sorted(later)[len(later) // 2]]))
"""


@dataclass
class Construction:
    """One client's row, as saved to JSON."""

    client: str
    first_ms: float
    later_ms: float
    first_ms_runs: list[float]


def _one(imports: str, make: str) -> tuple[float, float]:
    code = _CHILD.format(imports=imports, make=make, later=LATER)
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    if done.returncode != 0:
        raise RuntimeError(f"making {make!r} failed:\n{done.stderr}")
    first, later = json.loads(done.stdout.strip().splitlines()[-1])
    return float(first), float(later)


def measure(repeat: int, notes: list[str]) -> list[Construction]:
    """Every installed client, ``repeat`` fresh interpreters each, round-robin."""
    clients = {}
    for name, (imports, make) in CLIENTS.items():
        module = imports.split()[1]  # "import openai", "from purai_transports.trio import"
        if importlib.util.find_spec(module) is None:
            notes.append(f"{module} is not installed: its construction row is skipped")
        else:
            clients[name] = (imports, make)
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in clients}
    for _ in range(repeat):
        for name, (imports, make) in clients.items():
            runs[name].append(_one(imports, make))
    return [
        Construction(
            client=name,
            first_ms=median([first for first, _ in measured]) * 1e3,
            later_ms=median([later for _, later in measured]) * 1e3,
            first_ms_runs=[first * 1e3 for first, _ in measured],
        )
        for name, measured in runs.items()
    ]


def table(rows: list[Construction]) -> str:
    """The results as Markdown."""
    header = ("client, for an http:// URL", "first in a process, ms", f"each of {LATER} more, ms")
    lines = [(r.client, f"{r.first_ms:.2f}", f"{r.later_ms:.3f}") for r in rows]
    return format_table(header, lines, left=1)
