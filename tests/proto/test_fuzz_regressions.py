"""Replay the fuzzers' seeds and every input they ever found a problem with.

The invariants are the fuzzers' own (fuzz/invariants.py): any input decodes or
raises RemoteProtocolError, and gives the same answer whole or in pieces.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fuzz.invariants import check_connection, check_decoder
from tests.helpers.paths import ROOT

FUZZ = ROOT / "fuzz"
CHECKS = {"decoder": check_decoder, "connection": check_connection}


def inputs() -> list[tuple[str, Path]]:
    return [
        (target, path)
        for folder in ("seeds", "regressions")
        for target in CHECKS
        for path in sorted((FUZZ / folder / target).glob("*"))
    ]


@pytest.mark.parametrize(("target", "path"), inputs(), ids=lambda v: getattr(v, "name", v))
def test_input_keeps_the_invariants(target: str, path: Path) -> None:
    CHECKS[target](path.read_bytes())
