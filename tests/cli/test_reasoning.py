"""``purai chat --reasoning {show,hide}``, and ``purai chat`` under a base URL ending in
``/v1``, as a user runs it."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest

from purai_proto import ChatCompletion, Choice, Message
from purai_transports.cli.printer import ReasoningOption, ReplyPrinter
from purai_transports.server import BackgroundServer, ServerConfig
from tests.helpers.scripted_replies import replayed_reply
from tests.helpers.server_streams import SERVERS
from tests.helpers.servers import ScriptedServer

DEEPSEEK = SERVERS / "deepseek_reasoning_content.txt"
REASONING, ANSWER = "9.11 vs 9.9: compare tenths, 1 < 9.", "9.9 is larger."


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def purai(*args: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PURAI_")}
    return subprocess.run(
        [sys.executable, "-m", "purai_transports.cli", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
        check=False,
    )


def test_chat_under_a_v1_base_url_talks_to_purai_serve() -> None:
    # OpenAI's convention: /chat/completions under the /v1 base URL.
    with BackgroundServer(ServerConfig(quiet=True)) as server:
        result = purai("chat", "--base-url", server.base_url + "/v1", "hi")
    assert result.returncode == 0, result.stderr
    assert 'You said: "hi"' in result.stdout


def test_chat_names_what_was_meant_on_a_404() -> None:
    with BackgroundServer(ServerConfig(quiet=True)) as server:
        base = server.base_url
        result = purai(
            "chat", "--base-url", base + "/v1", "--path", "/openai/chat/completions", "hi"
        )
    assert result.returncode == 1
    assert f"POST {base}/v1/openai/chat/completions" in result.stderr
    assert f"did you mean base_url='{base}'?" in result.stderr


@pytest.mark.parametrize(
    ("option", "shown"),
    [
        ([], f"<think>\n{REASONING}\n</think>\n{ANSWER}\n"),
        (["--reasoning", "show"], f"<think>\n{REASONING}\n</think>\n{ANSWER}\n"),
        (["--reasoning", "hide"], f"{ANSWER}\n"),
    ],
)
@pytest.mark.parametrize("stream", [True, False], ids=["stream", "no-stream"])
def test_chat_sets_the_reasoning_apart_or_hides_it(
    option: list[str], shown: str, stream: bool
) -> None:
    body = DEEPSEEK.read_bytes()
    with ScriptedServer(replayed_reply(body)) as server:
        no_stream = [] if stream else ["--no-stream"]
        result = purai("chat", "--base-url", server.base_url + "/v1", *option, *no_stream, "q")
    assert result.returncode == 0, result.stderr
    assert result.stdout == shown


def _whole(reasoning: str, text: str) -> ChatCompletion:
    message = Message(role="assistant", content=text, reasoning_content=reasoning)
    return ChatCompletion(choices=[Choice(message=message)])


@pytest.mark.parametrize("reasoning", ["show", "hide"])
def test_a_whole_reply_shows_its_reasoning_as_a_stream_does(reasoning: ReasoningOption) -> None:
    terminal, piped = Terminal(), io.StringIO()
    for out in (terminal, piped):
        printer = ReplyPrinter(out, as_json=False, reasoning=reasoning)
        printer.completion(_whole("hmm", "Yes."))
        printer.end()
        assert printer.text == "Yes."
    if reasoning == "hide":
        assert terminal.getvalue() == piped.getvalue() == "Yes.\n"
    else:
        assert terminal.getvalue() == "\x1b[2mhmm\x1b[22m\nYes.\n"
        assert piped.getvalue() == "<think>\nhmm\n</think>\nYes.\n"


def test_json_lines_are_the_same_whatever_the_reasoning_option() -> None:
    outs = []
    choices: tuple[ReasoningOption, ...] = ("show", "hide")
    for reasoning in choices:
        out = io.StringIO()
        printer = ReplyPrinter(out, as_json=True, reasoning=reasoning)
        printer.completion(_whole("hmm", "Yes."))
        printer.end()
        outs.append(out.getvalue())
    assert outs[0] == outs[1]
    assert '"reasoning_content":"hmm"' in outs[0]
