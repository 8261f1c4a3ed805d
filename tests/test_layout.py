"""The layout's rules, checked: what may import what, and facts defined once."""

from __future__ import annotations

import ast
import importlib.metadata
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import purai_proto

ROOT = Path(__file__).resolve().parents[1]

# purai_proto is sans-IO: no sockets, no clock, no event loop, no randomness.
_IO_MODULES = {"socket", "ssl", "select", "selectors", "asyncio", "anyio", "trio", "time", "random"}
# The one reading of a clock: a Retry-After given as an HTTP date by a server that sent
# no Date header can only be resolved against the local wall clock (as urllib3 does).
_ALLOWED = {("_error_reply.py", "time")}


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, module) for every import in ``path``; ``from . import x`` as ``.``."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            yield node.lineno, "." * node.level + (node.module or "")


def _sources(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py"))


def test_version_is_defined_once() -> None:
    assert importlib.metadata.version("purai") == purai_proto.__version__


@pytest.mark.parametrize("path", _sources("purai_proto"), ids=lambda p: p.name)
def test_the_core_does_no_io(path: Path) -> None:
    found = [
        f"{path.name}:{line}: {module}"
        for line, module in _imports(path)
        if module.split(".")[0] in _IO_MODULES and (path.name, module) not in _ALLOWED
    ]
    assert not found


def test_no_io_modules_are_imported() -> None:
    code = (
        "import sys, purai_proto; "
        "print(sorted(m for m in ('socket', 'ssl', 'asyncio', 'anyio', 'trio', 'selectors') "
        "if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.strip() == "[]"
    for source in (ROOT / "purai_proto").glob("*.py"):
        text = source.read_text()
        for name in ("socket", "ssl", "asyncio", "anyio", "trio"):
            assert f"import {name}" not in text, (source, name)


# Outside its own package, only a package's public names are used: the private modules
# can then be moved and split freely. (The tests may reach inside, to test the parts.)
_PACKAGES = ("purai_proto", "purai_transports")


def _private_imports(path: Path) -> list[str]:
    own = path.relative_to(ROOT).parts[0]
    return [
        f"{path.relative_to(ROOT)}:{line}: {module}"
        for line, module in _imports(path)
        if module.split(".")[0] in _PACKAGES
        and module.split(".")[0] != own
        and any(part.startswith("_") for part in module.split(".")[1:])
    ]


@pytest.mark.parametrize(
    "folder", ["purai_proto", "purai_transports", "benchmarks", "fuzz", "examples"]
)
def test_no_private_module_is_imported_across_packages(folder: str) -> None:
    assert [found for path in _sources(folder) for found in _private_imports(path)] == []
