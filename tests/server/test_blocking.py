"""The stand-in server from blocking code: ``BackgroundServer``, ``purai serve`` (with
curl and signals), and OpenAI's own client against ``/v1``.
"""

from __future__ import annotations

import re
import shutil
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from purai_transports import cli
from purai_transports.server import BackgroundServer, ServerConfig
from tests.helpers.processes import purai_serve
from tests.helpers.raw_client import SEED_PROMPT, SEED_TEXT, chat, decode, text_of


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_background_server(backend: str) -> None:
    server = BackgroundServer(ServerConfig(quiet=True), backend=backend)
    with pytest.raises(RuntimeError):
        server.base_url  # noqa: B018 - the access is the test
    with server:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", server.base_url)
        request = urllib.request.Request(
            f"{server.base_url}/openai/chat/completions", data=chat(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
    assert text_of(decode(body)) == SEED_TEXT
    with pytest.raises(RuntimeError):
        server.port  # noqa: B018


def test_background_server_reports_a_busy_port() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        config = ServerConfig(quiet=True, port=taken.getsockname()[1])
        with pytest.raises(OSError, match="in use"), BackgroundServer(config):
            pass


def test_cli_rejects_bad_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["serve", "--fail-status", "200", "--quiet"]) == 2
    assert "--fail-status must be 400 to 599" in capsys.readouterr().err


def test_cli_reports_startup_failure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing.txt"
    assert cli.main(["serve", "--port", "0", "--quiet", "--reply-file", str(missing)]) == 1
    assert capsys.readouterr().err.startswith("purai: No such file or directory")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize(
    ("backend", "stop"), [("asyncio", signal.SIGINT), ("trio", signal.SIGTERM)]
)
def test_cli_serve(backend: str, stop: signal.Signals) -> None:
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed")
    with purai_serve("--backend", backend) as (url, proc):
        result = subprocess.run(
            [
                *(curl, "-sS", "-N", "--max-time", "20", "--data-binary", "@-"),
                *("-H", "Content-Type: application/json", f"{url}/openai/chat/completions"),
            ],
            input=chat(),
            capture_output=True,
            check=True,
        )
        assert text_of(decode(result.stdout)) == SEED_TEXT
        proc.send_signal(stop)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0
        assert '"POST /openai/chat/completions" 200 chunks=4' in err
        assert err.endswith("purai: stopped\n")


def test_openai_client() -> None:
    openai = pytest.importorskip("openai")
    messages = [{"role": "user", "content": SEED_PROMPT}]
    config = ServerConfig(quiet=True, api_key="purgpt-test")
    with (
        BackgroundServer(config) as server,
        openai.OpenAI(
            base_url=f"{server.base_url}/v1", api_key="purgpt-test", max_retries=0
        ) as client,
    ):
        stream = client.chat.completions.create(
            model="gpt-3.5-turbo", messages=messages, stream=True
        )
        with stream:
            text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        assert text == SEED_TEXT
        reply = client.chat.completions.create(model="gpt-3.5-turbo", messages=messages)
        assert reply.choices[0].message.content == SEED_TEXT
        assert "gpt-3.5-turbo" in [model.id for model in client.models.list()]
        with (
            openai.OpenAI(
                base_url=f"{server.base_url}/v1", api_key="wrong", max_retries=0
            ) as intruder,
            pytest.raises(openai.AuthenticationError, match="API key"),
        ):
            intruder.chat.completions.create(model="gpt-3.5-turbo", messages=messages)
