"""Charts for docs/benchmarks.md, drawn from the suites' saved JSON.

Usage::

    python -m benchmarks.plots [--json-dir DIR] [--out-dir DIR]

Drawn from the results files rather than inside the suites, so a chart can be redrawn
(or restyled) without measuring again, and always shows figures that are also in the
JSON beside it. matplotlib is optional (the ``plot`` extra): without it the charts are
skipped with a note and every suite still runs.
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path
from typing import Any

from ._common import RESULTS_DIR, ROOT, load_results

__all__ = ["draw", "have_matplotlib", "main"]

DOCS_DIR = ROOT / "docs"
DECODER_PNG = "benchmarks-decoder.png"
E2E_PNG = "benchmarks-e2e.png"

_FEEDS = ("16 KiB", "64 KiB", "one object per feed", "random 1-64 B")
_FEED_LABELS = ("16 KiB", "64 KiB", "one object\nper feed", "random\n1-64 B")
# The decoder chart's bars: one per framing in each feed size.
_FRAMINGS = (
    ("concatenated", "tab:blue"),
    ("ndjson", "tab:cyan"),
    ("sse", "tab:olive"),
    ("json-array", "tab:pink"),
)
# The horizontal lines of the decoder chart: the limit first, then the peers.
_LINES = (
    ("msgspec typed, one call per object (the limit)", "the limit: per object", "black", "-"),
    ("msgspec typed, one array per 16 KiB", "msgspec, one array per 16 KiB", "dimgray", "--"),
    ("msgspec typed, one array of all", "msgspec, one array of all", "gray", ":"),
    ("orjson.loads per object (dicts)", "orjson per object (dicts)", "tab:purple", "-."),
    ("json raw_decode loop (str)", "json raw_decode loop", "tab:red", "--"),
    ("ijson items (yajl2_c)", "ijson (yajl2_c)", "tab:brown", ":"),
)


def have_matplotlib() -> bool:
    """True when matplotlib can be imported (the ``plot`` extra)."""
    return importlib.util.find_spec("matplotlib") is not None


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on a server or in CI
    import matplotlib.pyplot as plt

    return plt


def _caption(data: dict[str, Any]) -> str:
    m = data["machine"]
    return (
        f"{m['cpu_count']} CPUs, Python {m['python']}, msgspec {m['msgspec']}, "
        f"purai {m['purai_revision']}"
    )


def decoder_chart(data: dict[str, Any], out: Path) -> None:
    """ChunkDecoder MB/s per framing and feed size, one panel per corpus; the limit and
    the peers as lines."""
    plt = _pyplot()
    corpora = list(dict.fromkeys(r["corpus"] for r in data["rows"]))
    fig, axes = plt.subplots(1, len(corpora), figsize=(7 * len(corpora), 5.2), sharey=True)
    axes = list(axes) if len(corpora) > 1 else [axes]
    top = max(r["mb_s"] for r in data["rows"]) * 1.15
    for ax, corpus in zip(axes, corpora, strict=True):
        rows = {
            (r["approach"], r["feed"]): r["mb_s"] for r in data["rows"] if r["corpus"] == corpus
        }
        width = 0.8 / len(_FRAMINGS)
        for i, (framing, color) in enumerate(_FRAMINGS):
            values = [rows.get((f"ChunkDecoder {framing}", feed), 0.0) for feed in _FEEDS]
            where = [x + (i - (len(_FRAMINGS) - 1) / 2) * width for x in range(len(_FEEDS))]
            bars = ax.bar(where, values, width, color=color, label=f"ChunkDecoder, {framing}")
            ax.bar_label(bars, fmt="%.0f", padding=1, fontsize=6)
        ax.set_xticks(range(len(_FEEDS)), _FEED_LABELS)
        for approach, label, color, style in _LINES:
            value = next((v for (a, _), v in rows.items() if a == approach), None)
            if value is not None:
                ax.axhline(value, color=color, linestyle=style, linewidth=1.3, label=label)
        ax.set_title(f"{corpus} corpus")
        ax.set_xlabel("feed size")
        ax.set_ylim(0, top)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("MB/s (higher is better)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=5, fontsize=8, frameon=False)
    fig.suptitle(f"Decoder throughput, same bytes, same process ({_caption(data)})", fontsize=9)
    fig.tight_layout(rect=(0, 0.1, 1, 0.97))
    fig.savefig(out, dpi=110)
    plt.close(fig)


def _e2e_color(client: str) -> str:
    if client.startswith("openai"):
        return "tab:orange"
    if client.startswith("raw socket"):
        return "gray"
    if client.startswith("ChunkDecoder"):
        return "tab:green"
    if client.startswith("purai"):
        return "tab:blue"
    return "tab:purple"  # the other peers: httpx, requests, aiohttp


def e2e_chart(data: dict[str, Any], out: Path) -> None:
    """Chunks/s per client beside openai-python and the floor, log scale."""
    plt = _pyplot()
    rows = sorted(data["rows"], key=lambda r: r["chunks_per_s"])
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(rows) + 1.6))
    names = [f"{r['client']} ({r['stream']})" for r in rows]
    values = [r["chunks_per_s"] for r in rows]
    bars = ax.barh(names, values, color=[_e2e_color(r["client"]) for r in rows])
    labels = []
    for r in rows:
        x = r.get("ratio_to_openai")
        labels.append(f"{r['chunks_per_s']:,.0f}" + (f"  ({x:.1f}x openai)" if x else ""))
    ax.bar_label(bars, labels=labels, padding=3, fontsize=8)
    ax.set_xscale("log")
    ax.set_xlim(min(values) / 2, max(values) * 60)  # room for the labels
    ax.set_xlabel("chunks per second, log scale (higher is better)")
    ax.grid(axis="x", alpha=0.3, which="both")
    ax.set_title(
        f"End to end over loopback, one HTTP chunk per object\n{_caption(data)}", fontsize=9
    )
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def draw(json_dir: Path = RESULTS_DIR, out_dir: Path = DOCS_DIR) -> list[str]:
    """Draw whichever charts have results; return what was done, as lines to print."""
    if not have_matplotlib():
        return ["charts skipped: matplotlib is not installed (pip install '.[plot]')"]
    done = []
    for name, chart, png in (
        ("decoder", decoder_chart, DECODER_PNG),
        ("e2e", e2e_chart, E2E_PNG),
    ):
        data = load_results(json_dir / f"{name}.json")
        if data is None:
            done.append(f"chart {png} skipped: no {name}.json in {json_dir}")
            continue
        out_dir.mkdir(parents=True, exist_ok=True)
        chart(data, out_dir / png)
        done.append(f"chart saved to {out_dir / png}")
    return done


def main(argv: list[str] | None = None) -> int:
    """Entry point for ``python -m benchmarks.plots``."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.plots", description="Draw the charts from saved results."
    )
    parser.add_argument("--json-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--out-dir", type=Path, default=DOCS_DIR)
    args = parser.parse_args(argv)
    for line in draw(args.json_dir, args.out_dir):
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
