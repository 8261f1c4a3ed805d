"""Running ``purai`` commands as subprocesses, as users run them."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator

from .paths import ROOT

__all__ = ["purai_serve"]


@contextlib.contextmanager
def purai_serve(*options: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """Start ``purai serve --port 0`` and yield its base URL, read from its first
    line on stderr, and the process; kill it on the way out if it still runs."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "purai_transports.cli", "serve", "--port", "0", *options]
    with subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env) as proc:
        try:
            assert proc.stderr is not None
            line = proc.stderr.readline()
            match = re.fullmatch(r"purai: serving on (http://127\.0\.0\.1:\d+)\n", line)
            assert match, line
            yield match.group(1), proc
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.communicate(timeout=30)
