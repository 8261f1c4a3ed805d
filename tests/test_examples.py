"""The programs in examples/ run as documented, against the stand-in server they start."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
EXAMPLES = ["blocking_client", "asyncio_client", "trio_client", "selectors_loop"]


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_runs(name: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PURAI_")}
    # The checkout first, so the examples import this code even when not installed.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-W", "error", str(ROOT / "examples" / f"{name}.py")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "AI language model." in result.stdout
    assert result.stderr == ""


def test_every_example_is_tested() -> None:
    assert sorted(p.stem for p in (ROOT / "examples").glob("*.py")) == sorted(EXAMPLES)
