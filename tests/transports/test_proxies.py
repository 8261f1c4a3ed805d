"""Every client through proxies, over real loopback TCP and TLS.

The proxies are real ones nobody here wrote: pproxy (HTTP ``CONNECT``, absolute form,
SOCKS5 and TLS to the proxy, with and without a login), started once per session on
free loopback ports, and tinyproxy where it is installed. The origins are the
stand-in server (``http://``) and a scripted server with TLS from trustme
(``https://``), whose certificate is checked inside the tunnel. pproxy logs each
connection it makes for a client (``-> host:port``): a test checks the request went
through it, and that a ``socks5h://`` proxy was given the name, a ``socks5://`` one
an address.

The refusals, cuts and stalls come from scripted proxies: :class:`tests.servers.
ScriptedServer` reads a ``CONNECT`` as any request, and
:class:`tests.proxy_servers.ScriptedSocks5Proxy` answers SOCKS5 byte for byte.

The clients, servers and the descriptor check are :mod:`tests.test_transports`'.
"""

from __future__ import annotations

import base64
import contextlib
import os
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from purai_transports import (
    ClientSettings,
    ConnectTimeout,
    LocalProtocolError,
    ProxyError,
    Timeout,
    TLSError,
    TotalTimeout,
)
from tests.helpers.clients import (
    SEED_MESSAGES,
    SHORT,
    MakeClient,
    StartScripted,
    over_tcp_and_tls,
)
from tests.helpers.proxy_servers import (
    RunningProxy,
    ScriptedSocks5Proxy,
    start_pproxy,
    start_tinyproxy,
)
from tests.helpers.scripted_replies import CLOSE, HANG, RESET, Reply, head, streamed_reply

pytestmark = pytest.mark.usefixtures("no_leaked_fds")

TEXTS = ["Hel", "lo, ", "wörld", ' }{"', "🚀!"]
TEXT = "".join(TEXTS)
API_KEY = "sk-test-5be6f0c1d2a34e7f"
LOGIN = "proxy-user:pr0xy-s3cret"
PASSWORD = LOGIN.split(":", 1)[1]
#: The proxy kinds every client is run through, each with a pproxy of its own.
KINDS = [
    "http",
    "http+login",
    "https+login",
    "socks5",
    "socks5+login",
    "socks5h",
    "socks5h+login",
]


# --- the real proxies -----------------------------------------------------------------


@pytest.fixture(scope="session")
def pproxies(
    ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, RunningProxy]]:
    """Three pproxy processes: HTTP and SOCKS5 without a login, the same with one, and
    HTTP over TLS (a certificate from the test CA) with one."""
    folder = tmp_path_factory.mktemp("pproxy")
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert_file, key_file = folder / "proxy.pem", folder / "proxy.key"
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    with contextlib.ExitStack() as stack:
        open_proxy = stack.enter_context(start_pproxy(folder / "open.log", schemes="http+socks5"))
        login = stack.enter_context(
            start_pproxy(folder / "login.log", schemes="http+socks5", login=LOGIN)
        )
        tls = stack.enter_context(
            start_pproxy(folder / "tls.log", schemes="http", login=LOGIN, tls=(cert_file, key_file))
        )
        yield {"open": open_proxy, "login": login, "tls": tls}


def _proxy_for(kind: str, pproxies: dict[str, RunningProxy]) -> tuple[str, RunningProxy]:
    """The ``proxy=`` URL for ``kind``, and the pproxy behind it."""
    scheme, _, login = kind.partition("+")
    running = pproxies["tls" if scheme == "https" else "login" if login else "open"]
    return scheme + running.url[running.url.index("://") :], running


def _origin(tls: bool, scripted: StartScripted, standin: object) -> tuple[str, int]:
    """An origin streaming :data:`TEXT`: its base URL (on 127.0.0.1) and port."""
    if tls:
        server = scripted(streamed_reply(TEXTS), tls=True)
        return server.base_url, server.port
    assert callable(standin)
    url = str(standin(reply=TEXT))
    return url, int(url.rsplit(":", 1)[1])


@pytest.mark.parametrize("kind", KINDS)
@over_tcp_and_tls
def test_streams_through_the_proxy(
    make_client: MakeClient,
    scripted: StartScripted,
    standin: object,
    pproxies: dict[str, RunningProxy],
    kind: str,
    tls: bool,
) -> None:
    base_url, port = _origin(tls, scripted, standin)
    # socks5h: the proxy is given the name and resolves it; the others get the
    # address (socks5 looks the name up itself), and the certificate names both.
    host = "localhost" if kind.startswith(("socks5h", "socks5+")) else "127.0.0.1"
    proxy, running = _proxy_for(kind, pproxies)
    client = make_client(base_url.replace("127.0.0.1", host), proxy=proxy, api_key=API_KEY)
    for _ in range(2):  # the second on the connection kept alive, through the proxy
        assert client.stream(model="m", messages=SEED_MESSAGES).text == TEXT
    given = "localhost" if kind.startswith("socks5h") else "127.0.0.1"
    assert running.saw(f"-> {given}:{port}")
    assert PASSWORD not in repr(client.client)


@pytest.mark.parametrize("kind", ["http+login", "https+login", "socks5+login"])
def test_a_complete_reply_through_the_proxy(
    make_client: MakeClient,
    scripted: StartScripted,
    pproxies: dict[str, RunningProxy],
    kind: str,
) -> None:
    server = scripted(streamed_reply(TEXTS), tls=True)
    proxy, _ = _proxy_for(kind, pproxies)
    client = make_client(server.base_url, proxy=proxy)
    assert client.complete(model="m", messages=SEED_MESSAGES, stream=True).text == TEXT
    assert server.connections == 1


def test_the_origin_certificate_is_checked_inside_the_tunnel(
    make_client: MakeClient, scripted: StartScripted, pproxies: dict[str, RunningProxy]
) -> None:
    # The proxy's certificate is good; the origin's is for other names.
    other = trustme.CA().issue_cert("elsewhere.test")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    other.configure_cert(context)
    server = scripted(streamed_reply(TEXTS), ssl_context=context)
    proxy, _ = _proxy_for("https+login", pproxies)
    client = make_client(server.base_url, proxy=proxy)
    with pytest.raises(TLSError):
        client.stream(model="m", messages=SEED_MESSAGES)


def test_a_missing_login_is_refused_by_a_real_proxy(
    make_client: MakeClient, scripted: StartScripted, pproxies: dict[str, RunningProxy]
) -> None:
    server = scripted(streamed_reply(TEXTS), tls=True)
    url = pproxies["login"].url.replace(f"{LOGIN}@", "")
    client = make_client(server.base_url, proxy=url)
    with pytest.raises(ProxyError) as raised:
        client.stream(model="m", messages=SEED_MESSAGES)
    assert raised.value.status == 407


def test_tinyproxy_where_installed(
    make_client: MakeClient, scripted: StartScripted, standin: object, tmp_path: Path
) -> None:
    try:
        proxy = start_tinyproxy(tmp_path)
    except FileNotFoundError:
        pytest.skip("tinyproxy is not installed")
    with proxy as running:
        for tls in (False, True):
            base_url, _ = _origin(tls, scripted, standin)
            client = make_client(base_url, proxy=running.url)
            assert client.stream(model="m", messages=SEED_MESSAGES).text == TEXT


# --- refusals, cuts and stalls: scripted proxies --------------------------------------

_ORIGIN = "https://origin.test"  # never reached: the proxy refuses first


def _proxy_reply(status: int, reason: str) -> Reply:
    return Reply([head(status, [("Content-Length", "0")], reason=reason)], keep_alive=True)


@pytest.mark.parametrize(
    ("status", "reason"),
    [(407, "Proxy Authentication Required"), (403, "Forbidden"), (401, "Unauthorized")],
)
def test_a_refused_connect_raises_proxy_error(
    make_client: MakeClient, scripted: StartScripted, status: int, reason: str
) -> None:
    proxy = scripted(_proxy_reply(status, reason))
    url = proxy.base_url.replace("://", f"://{LOGIN}@")
    client = make_client(_ORIGIN, proxy=url, api_key=API_KEY, max_retries=2)
    with pytest.raises(ProxyError) as raised:
        client.stream(model="m", messages=SEED_MESSAGES)
    assert raised.value.status == status
    assert f"{status} {reason}" in str(raised.value)
    assert proxy.connections == 1  # not retried: it would be refused again
    (connect,) = proxy.seen
    assert (connect.method, connect.target) == ("CONNECT", "origin.test:443")
    assert connect.headers["host"] == "origin.test:443"
    assert (
        connect.headers["proxy-authorization"]
        == "Basic " + base64.b64encode(LOGIN.encode()).decode()
    )
    assert "authorization" not in connect.headers  # the API key goes to the origin only
    for shown in (str(raised.value), repr(raised.value), repr(client.client)):
        assert PASSWORD not in shown
        assert API_KEY not in shown


def test_requests_to_an_http_origin_go_to_the_proxy_in_absolute_form(
    make_client: MakeClient, scripted: StartScripted
) -> None:
    proxy = scripted(streamed_reply(TEXTS))
    url = proxy.base_url.replace("://", f"://{LOGIN}@")
    client = make_client("http://origin.test:8000/api", proxy=url)
    assert client.stream(model="m", messages=SEED_MESSAGES).text == TEXT
    (request,) = proxy.seen
    assert request.target == "http://origin.test:8000/api/openai/chat/completions"
    assert request.headers["host"] == "origin.test:8000"
    assert request.headers["proxy-authorization"].startswith("Basic ")


def test_a_407_to_a_request_in_absolute_form_raises_proxy_error(
    make_client: MakeClient, scripted: StartScripted
) -> None:
    proxy = scripted(_proxy_reply(407, "Proxy Authentication Required"))
    client = make_client("http://origin.test", proxy=proxy.base_url)
    with pytest.raises(ProxyError) as raised:
        client.stream(model="m", messages=SEED_MESSAGES)
    assert raised.value.status == 407


@pytest.mark.parametrize("cut", [CLOSE, RESET], ids=["close", "reset"])
def test_a_proxy_that_cuts_the_connect_raises_proxy_error(
    make_client: MakeClient, scripted: StartScripted, cut: object
) -> None:
    proxy = scripted(Reply([b"HTTP/1.1 200 Conn", cut]))  # type: ignore[list-item]
    client = make_client(_ORIGIN, proxy=proxy.base_url)
    with pytest.raises(ProxyError, match="broke off the tunnel"):
        client.stream(model="m", messages=SEED_MESSAGES)


def test_bytes_past_the_connect_reply_raise_proxy_error(
    make_client: MakeClient, scripted: StartScripted
) -> None:
    proxy = scripted(Reply([head(200, []) + b"not the origin's", HANG]))
    client = make_client(_ORIGIN, proxy=proxy.base_url)
    with pytest.raises(ProxyError, match="past its reply"):
        client.stream(model="m", messages=SEED_MESSAGES)


def test_a_proxy_that_stalls_runs_out_the_connect_limit(
    make_client: MakeClient, scripted: StartScripted
) -> None:
    proxy = scripted(Reply([HANG]))
    client = make_client(_ORIGIN, proxy=proxy.base_url, timeout=Timeout(connect=SHORT))
    with pytest.raises(ConnectTimeout):
        client.stream(model="m", messages=SEED_MESSAGES)


def test_a_proxy_that_stalls_runs_out_the_total_limit(
    make_client: MakeClient, scripted: StartScripted
) -> None:
    proxy = scripted(Reply([HANG]))
    timeout = Timeout(connect=5.0, read=5.0, write=5.0, chunk=5.0, total=SHORT)
    client = make_client(_ORIGIN, proxy=proxy.base_url, timeout=timeout)
    with pytest.raises(TotalTimeout):
        client.stream(model="m", messages=SEED_MESSAGES)


def test_a_tls_handshake_that_stalls_inside_the_tunnel_runs_out_the_connect_limit(
    make_client: MakeClient, scripted: StartScripted
) -> None:
    # The tunnel opens, and nothing answers the ClientHello inside it.
    proxy = scripted(Reply([head(200, []), HANG]))
    client = make_client(_ORIGIN, proxy=proxy.base_url, timeout=Timeout(connect=SHORT))
    with pytest.raises(ConnectTimeout):
        client.stream(model="m", messages=SEED_MESSAGES)


_SOCKS_ORIGIN = "https://192.0.2.1"  # an address (socks5 looks no name up), never reached
_SOCKS_NO_LOGIN = b"\x05\x00"
_SOCKS_LOGIN = b"\x05\x02"


def _socks_reply(code: int) -> bytes:
    return bytes([5, code, 0, 1, 127, 0, 0, 1, 0, 80])


@pytest.mark.parametrize(
    ("steps", "status", "said"),
    [
        ((_SOCKS_NO_LOGIN, _socks_reply(5)), 5, "connection refused"),
        ((_SOCKS_NO_LOGIN, _socks_reply(2)), 2, "not allowed by ruleset"),
        ((_SOCKS_LOGIN, b"\x01\x01"), 0, "refused the user name or password"),
        ((b"\x05\xff",), 0, "accepts no login offered"),
    ],
    ids=["refused", "ruleset", "bad-login", "no-method"],
)
def test_a_socks5_refusal_raises_proxy_error(
    make_client: MakeClient, steps: tuple[bytes, ...], status: int, said: str
) -> None:
    with ScriptedSocks5Proxy(*steps) as proxy:
        url = proxy.url.replace("://", f"://{LOGIN}@")
        client = make_client(_SOCKS_ORIGIN, proxy=url, max_retries=2)
        with pytest.raises(ProxyError, match=said) as raised:
            client.stream(model="m", messages=SEED_MESSAGES)
        assert raised.value.status == status
        assert PASSWORD not in str(raised.value)


@pytest.mark.parametrize("cut", [CLOSE, HANG], ids=["close", "stall"])
def test_a_socks5_proxy_that_cuts_or_stalls(make_client: MakeClient, cut: object) -> None:
    with ScriptedSocks5Proxy(_SOCKS_NO_LOGIN, cut) as proxy:  # type: ignore[arg-type]
        client = make_client(_SOCKS_ORIGIN, proxy=proxy.url, timeout=Timeout(connect=SHORT))
        expected = ProxyError if cut is CLOSE else ConnectTimeout
        with pytest.raises(expected):
            client.stream(model="m", messages=SEED_MESSAGES)
        greeting, connect = proxy.received
        assert greeting == b"\x05\x01\x00"  # no login offered without credentials
        assert connect == b"\x05\x01\x00\x01" + bytes([192, 0, 2, 1]) + (443).to_bytes(2, "big")


# --- certificates ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


def test_verify_takes_a_ca_bundle_path(
    make_client: MakeClient, scripted: StartScripted, ca_file: Path
) -> None:
    server = scripted(streamed_reply(TEXTS), tls=True)
    client = make_client(server.base_url, verify=str(ca_file))
    assert client.stream(model="m", messages=SEED_MESSAGES).text == TEXT


@pytest.mark.parametrize("trust_env", [True, False])
def test_ssl_cert_file_is_read_with_trust_env(
    make_client: MakeClient,
    scripted: StartScripted,
    ca_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    trust_env: bool,
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    server = scripted(streamed_reply(TEXTS), tls=True)
    client = make_client(server.base_url, verify=True, trust_env=trust_env)
    if trust_env:
        assert client.stream(model="m", messages=SEED_MESSAGES).text == TEXT
    else:
        with pytest.raises(TLSError):
            client.stream(model="m", messages=SEED_MESSAGES)


def test_proxy_variables_are_read_with_trust_env(
    make_client: MakeClient,
    scripted: StartScripted,
    pproxies: dict[str, RunningProxy],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = scripted(streamed_reply(TEXTS), tls=True)
    running = pproxies["login"]
    monkeypatch.setenv("HTTPS_PROXY", running.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    client = make_client(server.base_url)
    assert client.stream(model="m", messages=SEED_MESSAGES).text == TEXT
    assert running.saw(f"-> 127.0.0.1:{server.port}")
    monkeypatch.setenv("NO_PROXY", "127.0.0.0/8")
    direct = make_client(server.base_url)
    assert "proxy=" not in repr(direct.client)
    assert direct.stream(model="m", messages=SEED_MESSAGES).text == TEXT
    assert "proxy=" not in repr(make_client(server.base_url, trust_env=False).client)


def test_a_ca_bundle_path_that_is_not_there_is_refused_at_once(tmp_path: Path) -> None:
    with pytest.raises(LocalProtocolError, match="no CA bundle"):
        ClientSettings(base_url="https://x.test", verify=str(tmp_path / "missing.pem"))


# --- purai chat -----------------------------------------------------------------------


def _purai_chat(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith("PURAI_")}
    return subprocess.run(
        [sys.executable, "-m", "purai_transports.cli", "chat", *args],
        input="", capture_output=True, text=True, env={**keep, **env}, timeout=60, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("transport", ["blocking", "asyncio", "trio"])
def test_chat_through_a_proxy_with_a_ca_bundle(
    scripted: StartScripted, pproxies: dict[str, RunningProxy], ca_file: Path, transport: str
) -> None:
    server = scripted(streamed_reply(TEXTS), tls=True)
    proxy, running = _proxy_for("https+login", pproxies)
    options = ["--base-url", server.base_url, "--proxy", proxy, "--cacert", str(ca_file)]
    result = _purai_chat(*options, "--transport", transport, "hi", env={})
    assert result.returncode == 0, result.stderr
    assert result.stdout == TEXT + "\n"
    assert running.saw(f"-> 127.0.0.1:{server.port}")


def test_chat_reads_the_proxy_variables(
    scripted: StartScripted, pproxies: dict[str, RunningProxy], ca_file: Path
) -> None:
    server = scripted(streamed_reply(TEXTS), tls=True)
    running = pproxies["login"]
    env = {"HTTPS_PROXY": running.url, "SSL_CERT_FILE": str(ca_file), "NO_PROXY": ""}
    result = _purai_chat("--base-url", server.base_url, "hi", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == TEXT + "\n"
    assert running.saw(f"-> 127.0.0.1:{server.port}")
    env["HTTPS_PROXY"] = running.url.replace(f"{LOGIN}@", "")
    refused = _purai_chat("--base-url", server.base_url, "hi", env=env)
    assert refused.returncode == 1
    assert "407" in refused.stderr


def test_chat_talks_to_its_built_in_server_directly() -> None:
    # A proxy nobody answers at: the built-in server on loopback is reached anyway.
    env = {"HTTP_PROXY": "http://127.0.0.1:9", "ALL_PROXY": "socks5://127.0.0.1:9"}
    result = _purai_chat("hi", env=env)
    assert result.returncode == 0, result.stderr
