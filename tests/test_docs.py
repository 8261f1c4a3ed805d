"""The README and docs/ say what the code does: their Python examples and shell
sessions run as written, and they name every option and exception there is."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from purai_transports.cli.conversation import PROMPT
from tests.helpers.terminal import Terminal

ROOT = Path(__file__).parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def examples() -> list[tuple[str, str]]:
    found = []
    for page in PAGES:
        for number, code in enumerate(BLOCK.findall(page.read_text()), 1):
            found.append((f"{page.relative_to(ROOT)}#{number}", code))
    return found


@pytest.mark.parametrize(("where", "code"), examples(), ids=[w for w, _ in examples()])
def test_example_runs(
    where: str, code: str, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)  # examples name files relative to the checkout
    # dont_inherit: run as a file of its own would, without this module's
    # "from __future__ import annotations" (a Struct's annotations must resolve).
    exec(compile(code, where, "exec", dont_inherit=True), {"__name__": "__example__"})
    # What a reader runs prints what the page says, with no server log in it.
    assert "purai: " not in capfd.readouterr().err


# --- the shell sessions: ```console blocks, run as written ---------------------------

SESSION = re.compile(r"^```console\n(.*?)^```", re.MULTILINE | re.DOTALL)
PORT = re.compile(r"127\.0\.0\.1:\d{4,5}")  # the built-in server's free port differs


def sessions() -> list[tuple[str, str, str]]:
    """``(where, command, what it prints)`` for each ``$ command`` of every session."""
    found = []
    for page in PAGES:
        for number, block in enumerate(SESSION.findall(page.read_text()), 1):
            for step, part in enumerate(block.split("$ ")[1:], 1):
                command, _, shown = part.partition("\n")
                found.append((f"{page.relative_to(ROOT)}#{number}.{step}", command, shown))
    return found


def shell_environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PURAI_")}
    # The purai command installed beside this Python comes first.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


@pytest.mark.parametrize(
    ("where", "command", "shown"), sessions(), ids=[where for where, _, _ in sessions()]
)
def test_session_prints_what_the_page_shows(where: str, command: str, shown: str) -> None:
    if f"\n{PROMPT}" in f"\n{shown}":
        printed = _typed_on_a_terminal(command, shown)
    else:
        printed = subprocess.run(
            command, shell=True, cwd=ROOT, env=shell_environment(), stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, timeout=60, check=False,
        ).stdout  # fmt: skip
    assert PORT.sub("PORT", printed) == PORT.sub("PORT", shown), where


def _typed_on_a_terminal(command: str, shown: str) -> str:
    """A conversation: type each line that follows a prompt, as a person would."""
    words = shlex.split(command)
    assert words[:2] == ["purai", "chat"], command
    with Terminal(*words[1:]) as terminal:
        printed = terminal.read_until(PROMPT)
        for line in shown.splitlines():
            if line.startswith(PROMPT):
                typed = line.removeprefix(PROMPT)
                terminal.type(typed + "\r")
                printed += terminal.read_until("\n" if typed == "/exit" else PROMPT)
        terminal.exit_status()
    return printed


# --- the options: each subcommand's --help and its table name the same ones --------

# Where each subcommand's table of options is: the section of that page headed
# "## `purai SUBCOMMAND`".
OPTION_TABLES = {
    "bench": "docs/cli.md",
    "chat": "docs/cli.md",
    "decode": "docs/cli.md",
    "serve": "docs/server.md",
}
OPTION = re.compile(r"(?<![\w-])(--?[a-zA-Z][\w-]*)")


def documented_options(page: str, command: str) -> set[str]:
    text = (ROOT / page).read_text()
    section = text.split(f"## `purai {command}`\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in OPTION.findall(row.split("|")[1])}


def options_in_help(command: str) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-m", "purai_transports.cli", command, "--help"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    options = result.stdout.split("\noptions:\n", 1)[1]
    lines = [line for line in options.splitlines() if line.startswith("  -")]
    names = {name for line in lines for name in re.findall(r"(?:^  |, )(--?[\w-]+)", line)}
    return names - {"-h", "--help"}


@pytest.mark.parametrize("command", sorted(OPTION_TABLES))
def test_the_docs_name_every_option(command: str) -> None:
    assert documented_options(OPTION_TABLES[command], command) == options_in_help(command)


# --- the exceptions: the tree in clients.md and the reference name them all ---------


def test_the_docs_name_every_exception() -> None:
    import purai_transports

    exported = {
        name
        for name in purai_transports.__all__
        if isinstance(getattr(purai_transports, name), type)
        and issubclass(getattr(purai_transports, name), Exception)
    }
    clients = (ROOT / "docs" / "clients.md").read_text()
    tree = clients.split("## Exceptions", 1)[1].split("```text\n", 1)[1].split("```", 1)[0]
    in_tree = set(re.findall(r"\b([A-Z]\w+(?:Error|Exception|Timeout))\b", tree))
    in_reference = set(
        re.findall(r"autoexception:: purai_\w+\.(\w+)", (ROOT / "docs" / "api.md").read_text())
    )
    assert exported <= in_tree
    assert exported <= in_reference
