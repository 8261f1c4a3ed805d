"""``python -m benchmarks``: the decoder suite, the only one so far."""

from __future__ import annotations

from .decoder import main

if __name__ == "__main__":
    main()
