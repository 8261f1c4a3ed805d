"""Where the checkout and the test data are, for tests at any depth of the tree."""

from __future__ import annotations

from pathlib import Path

__all__ = ["DATA", "ROOT", "SEED_STREAM"]

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
#: The seed's captured stream: PurAI's concatenated JSON objects, as a server sent them.
SEED_STREAM = DATA / "seed-stream.json"
