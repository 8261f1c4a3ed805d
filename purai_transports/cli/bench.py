"""``purai bench``: run the benchmarks of a source checkout.

The benchmarks live in the checkout's ``benchmarks/`` folder, not in the installed
package (they need the peers' packages and write results beside themselves), so this
command looks for that folder: beside the installed package (an editable install)
or in the current directory.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_bench_parser"]


def add_bench_parser(commands: Any) -> None:
    bench = commands.add_parser(
        "bench",
        help="run the benchmarks (from a source checkout)",
        description="Run the benchmarks of benchmarks/ in a source checkout; options are "
        "passed on (--quick for a run of under a minute, --help for the rest).",
        add_help=False,
    )
    bench.set_defaults(run=run_bench, passes_options_on=True)


def _checkout() -> Path | None:
    for root in (Path(__file__).resolve().parents[2], Path.cwd()):
        if (root / "benchmarks" / "__init__.py").is_file():
            return root
    return None


def run_bench(args: argparse.Namespace, options: list[str]) -> int:
    root = _checkout()
    if root is None:
        print(
            "purai: the benchmarks come with a source checkout: run 'purai bench' in one "
            "(pip install -e '.[bench]')",
            file=sys.stderr,
        )
        return 1
    sys.path.insert(0, str(root))
    try:
        main = importlib.import_module("benchmarks.run").main  # every suite
    except ImportError:
        main = importlib.import_module("benchmarks.decoder").run  # the decoder suite
    return int(main(options))
