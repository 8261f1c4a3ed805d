"""``purai bench`` as a user runs it after ``pip install``: outside a checkout, where
the ``benchmarks/`` folder cannot be imported. Never asserts on a timing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from purai_proto import ChatCompletionChunk, ChunkDecoder, StreamEncoder, StreamFraming
from tests.helpers.paths import ROOT, SEED_STREAM

SEED = SEED_STREAM
FRAMINGS: tuple[StreamFraming, ...] = ("sse", "concatenated", "ndjson", "json-array")
ROW_KEYS = {
    "approach",
    "feed",
    "median_s",
    "mb_s",
    "objects_per_s",
    "ratio_to_limit",
    "ratio_to_peer",
}


@pytest.fixture
def installed(tmp_path: Path) -> Path:
    """A working directory outside the checkout whose path holds only what pip
    installs (the two packages), whatever way this checkout was installed."""
    site = tmp_path / "site"
    site.mkdir()
    for package in ("purai_proto", "purai_transports"):
        (site / package).symlink_to(ROOT / package, target_is_directory=True)
    work = tmp_path / "work"
    work.mkdir()
    return work


def purai(cwd: Path, *args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PURAI_", "PYTHON"))}
    env["PYTHONPATH"] = str(cwd.parent / "site")
    return subprocess.run(
        [sys.executable, "-m", "purai_transports.cli", *args],
        cwd=cwd,
        input=stdin.decode(),
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def seed_body(framing: StreamFraming) -> bytes:
    """The seed's four chunks, framed as a server of that framing writes them."""
    decoder = ChunkDecoder(ChatCompletionChunk)
    chunks = decoder.feed(SEED.read_bytes()) + decoder.close()
    encoder = StreamEncoder(framing)
    return b"".join(encoder.encode(chunk) for chunk in chunks) + encoder.end()


def test_the_checkout_is_out_of_reach(installed: Path) -> None:
    probe = (
        "import importlib.util as u; print(u.find_spec('benchmarks'), u.find_spec('purai_proto'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=installed,
        env={**os.environ, "PYTHONPATH": str(installed.parent / "site")},
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.startswith("None ModuleSpec(name='purai_proto'")


def test_help(installed: Path) -> None:
    result = purai(installed, "bench", "--help")
    assert result.returncode == 0, result.stderr
    for option in ("FILE", "--read-size", "--time", "--json", "--untyped"):
        assert option in result.stdout


def test_the_built_in_corpus_in_every_framing(installed: Path) -> None:
    result = purai(installed, "bench", "--time", "0.01")
    assert result.returncode == 0, result.stderr
    for framing in FRAMINGS:
        assert f"## built-in ({framing}): 400 objects" in result.stdout
    assert "| msgspec, boundaries given (the limit) | pre-split" in result.stdout
    assert "| ChunkDecoder (auto)" in result.stdout
    assert "x limit" in result.stdout
    # Progress, one line per body when stderr is no terminal.
    assert [line.split(" (")[0] for line in result.stderr.splitlines()] == [
        f"purai bench: [{i}/4] built-in" for i in range(1, 5)
    ]


@pytest.mark.parametrize("framing", FRAMINGS)
def test_a_captured_body_of_each_framing(installed: Path, framing: StreamFraming) -> None:
    (installed / "body.txt").write_bytes(seed_body(framing))
    result = purai(installed, "bench", "body.txt", "--json", "--time", "0.01", "--read-size", "7")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) == {"purai", "machine", "versions", "config", "bodies"}
    assert report["config"]["read_sizes"] == [7]
    [body] = report["bodies"]
    assert (body["body"], body["framing"], body["objects"]) == ("body.txt", framing, 4)
    assert body["rounds"] >= 1
    rows: list[dict[str, Any]] = body["rows"]
    assert all(set(row) == ROW_KEYS for row in rows)
    assert [(r["approach"], r["feed"]) for r in rows[:2]] == [
        ("msgspec, boundaries given (the limit)", "pre-split"),
        ("ChunkDecoder (auto)", "7 B"),
    ]
    assert rows[0]["ratio_to_limit"] == 1.0
    assert "json" in rows[0]["ratio_to_peer"]  # the standard library is always there


def test_standard_input_and_untyped(installed: Path) -> None:
    body = seed_body("ndjson")
    result = purai(installed, "bench", "-", "--untyped", "--json", "--time", "0.01", stdin=body)
    assert result.returncode == 0, result.stderr
    [measured] = json.loads(result.stdout)["bodies"]
    assert (measured["body"], measured["framing"]) == ("standard input", "ndjson")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"a": 1}{"b": ', "purai: stream ended inside a value"),
        (b"", "purai: body.txt holds no object"),
        (b'{"error": {"message": "quota"}, "status": 429}', "purai: body.txt carries an error"),
        (b'{"choices": 5}', "purai: body.txt: its objects are no ChatCompletionChunk"),
    ],
)
def test_a_body_with_nothing_to_measure_is_one_line(
    installed: Path, body: bytes, message: str
) -> None:
    (installed / "body.txt").write_bytes(body)
    result = purai(installed, "bench", "body.txt", "--time", "0.01")
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1].startswith(message), result.stderr
    assert "Traceback" not in result.stderr


def test_bad_options_are_the_subcommands_own(installed: Path) -> None:
    for option in (["--time", "0"], ["--read-size", "0"], ["--read-size", "big"]):
        result = purai(installed, "bench", *option)
        assert result.returncode == 2
        assert "purai bench: error: argument" in result.stderr
