"""``python -m benchmarks``: every suite (see :mod:`benchmarks.run` for the options)."""

from __future__ import annotations

from .run import main

if __name__ == "__main__":
    raise SystemExit(main())
