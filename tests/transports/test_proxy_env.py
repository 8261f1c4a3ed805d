"""Which proxy a client uses: ``proxy=`` parsed, and the environment's variables read
as curl and httpx read them (:mod:`purai_transports._core.proxies`), table by table;
the trust store the variables name; the pool, keyed by route."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from purai_proto import ClientConnection
from purai_transports import ClientSettings, LocalProtocolError
from purai_transports._backends.sockets import default_ssl_context, trust_store
from purai_transports._core.pool import Connection, ConnectionPool
from purai_transports._core.proxies import Proxy, Route, bypasses_proxy, proxy_from_environment
from purai_transports._core.settings import Origin
from purai_transports.blocking import Client

HTTPS = Origin.parse("https://api.example.com")
HTTP = Origin.parse("http://api.example.com:8000")

# (variables, origin, the proxy URL found or None)
ENVIRONMENTS = [
    ({}, HTTPS, None),
    ({"HTTPS_PROXY": "http://p:3128"}, HTTPS, "http://p:3128"),
    ({"https_proxy": "http://p:3128"}, HTTPS, "http://p:3128"),
    ({"https_proxy": "http://lower:1", "HTTPS_PROXY": "http://upper:1"}, HTTPS, "http://lower:1"),
    ({"HTTPS_PROXY": "http://p:3128"}, HTTP, None),  # https_proxy is for https:// only
    ({"HTTP_PROXY": "http://p:3128"}, HTTP, "http://p:3128"),
    ({"http_proxy": "http://p:3128"}, HTTP, "http://p:3128"),
    ({"HTTP_PROXY": "http://p:3128"}, HTTPS, None),
    ({"ALL_PROXY": "socks5://s:1080"}, HTTPS, "socks5://s:1080"),
    ({"all_proxy": "socks5h://s:1080"}, HTTP, "socks5h://s:1080"),
    ({"ALL_PROXY": "socks5://s:1", "HTTPS_PROXY": "http://p:1"}, HTTPS, "http://p:1"),
    ({"https_proxy": "", "HTTPS_PROXY": "http://upper:1"}, HTTPS, "http://upper:1"),
    ({"HTTPS_PROXY": "  "}, HTTPS, None),  # empty counts as unset
    # httpoxy: in a CGI script HTTP_PROXY may be the request's Proxy: header.
    ({"HTTP_PROXY": "http://evil:1", "REQUEST_METHOD": "GET"}, HTTP, None),
    ({"http_proxy": "http://p:1", "REQUEST_METHOD": "GET"}, HTTP, "http://p:1"),
    # NO_PROXY bypasses the variables.
    ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "example.com"}, HTTPS, None),
    ({"HTTPS_PROXY": "http://p:1", "no_proxy": "other.com"}, HTTPS, "http://p:1"),
    ({"HTTPS_PROXY": "http://p:1", "no_proxy": "*"}, HTTPS, None),
    ({"ALL_PROXY": "http://p:1", "NO_PROXY": "api.example.com:8000"}, HTTP, None),
    ({"ALL_PROXY": "http://p:1", "NO_PROXY": "api.example.com:9999"}, HTTP, "http://p:1"),
]


@pytest.mark.parametrize(("environ", "origin", "found"), ENVIRONMENTS)
def test_the_proxy_the_environment_gives(
    environ: dict[str, str], origin: Origin, found: str | None
) -> None:
    assert proxy_from_environment(origin, environ) == found


# (NO_PROXY, host, port, bypassed)
NO_PROXY = [
    ("", "example.com", 443, False),
    ("*", "example.com", 443, True),
    ("example.com", "example.com", 443, True),
    ("example.com", "api.example.com", 443, True),
    ("example.com", "a.b.example.com", 443, True),
    (".example.com", "api.example.com", 443, True),
    (".example.com", "example.com", 443, True),  # curl: the leading dot is ignored
    ("*.example.com", "api.example.com", 443, True),
    ("example.com", "notexample.com", 443, False),  # a suffix of the name, not a domain
    ("example.com", "example.com.evil.test", 443, False),
    ("EXAMPLE.com", "Api.Example.COM", 443, True),  # no case
    ("example.com.", "api.example.com", 443, True),
    ("example.com", "api.example.com.", 443, True),
    ("other.test, example.com", "example.com", 443, True),
    ("other.test,example.com", "example.com", 443, True),
    ("other.test example.com", "example.com", 443, True),
    ("example.com:443", "example.com", 443, True),
    ("example.com:443", "example.com", 8443, False),
    ("localhost", "localhost", 80, True),
    ("127.0.0.1", "127.0.0.1", 80, True),
    ("127.0.0.1", "127.0.0.2", 80, False),
    ("127.0.0.1:8000", "127.0.0.1", 8000, True),
    ("127.0.0.1:8000", "127.0.0.1", 8001, False),
    ("10.0.0.0/8", "10.1.2.3", 80, True),
    ("10.0.0.0/8", "11.1.2.3", 80, False),
    ("192.168.1.0/24", "192.168.1.77", 80, True),
    ("::1", "::1", 80, True),
    ("[::1]", "::1", 80, True),
    ("[::1]:8080", "::1", 8080, True),
    ("[::1]:8080", "::1", 8081, False),
    ("fd00::/8", "fd12::5", 80, True),
    ("fd00::/8", "fe80::1", 80, False),
    ("10.0.0.0/8", "example.com", 80, False),  # a network covers no name: nothing is resolved
    ("example.com", "10.0.0.1", 80, False),
]


@pytest.mark.parametrize(("no_proxy", "host", "port", "bypassed"), NO_PROXY)
def test_no_proxy(no_proxy: str, host: str, port: int, bypassed: bool) -> None:
    assert bypasses_proxy(no_proxy, host, port) is bypassed


# (proxy URL, scheme, host, port, username, password)
URLS = [
    ("http://proxy.test:3128", "http", "proxy.test", 3128, None, None),
    ("proxy.test:3128", "http", "proxy.test", 3128, None, None),  # as curl reads it
    ("http://proxy.test", "http", "proxy.test", 80, None, None),
    ("https://proxy.test", "https", "proxy.test", 443, None, None),
    ("socks5://proxy.test", "socks5", "proxy.test", 1080, None, None),
    ("SOCKS5H://proxy.test:9050", "socks5h", "proxy.test", 9050, None, None),
    ("http://u:p@proxy.test:1", "http", "proxy.test", 1, "u", "p"),
    ("http://u%40corp:p%3A%2Fw@proxy.test:1/", "http", "proxy.test", 1, "u@corp", "p:/w"),
    ("http://u@proxy.test:1", "http", "proxy.test", 1, "u", None),
    ("http://[::1]:3128", "http", "::1", 3128, None, None),
]


@pytest.mark.parametrize(("url", "scheme", "host", "port", "username", "password"), URLS)
def test_a_proxy_url_is_parsed(
    url: str, scheme: str, host: str, port: int, username: str | None, password: str | None
) -> None:
    proxy = Proxy.parse(url)
    assert (proxy.scheme, proxy.host, proxy.port) == (scheme, host, port)
    assert (proxy.username, proxy.password) == (username, password)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://u:hunter2@proxy.test",
        "socks4://u:hunter2@proxy.test",
        "http://u:hunter2@proxy.test:notaport",
        "http://u:hunter2@/",
        "http://u:hunter2@proxy.test/path",
        "http://u:hunter2@proxy.test?q=1",
    ],
)
def test_a_bad_proxy_url_is_refused_without_showing_it(url: str) -> None:
    with pytest.raises(LocalProtocolError) as raised:
        ClientSettings(base_url="https://api.test", proxy=url)
    assert "hunter2" not in str(raised.value)


def test_a_user_name_with_a_colon_is_refused() -> None:
    with pytest.raises(LocalProtocolError, match="cannot contain ':'"):
        ClientSettings(base_url="https://api.test", proxy="http://a%3Ab:hunter2@p.test")


def test_no_password_or_api_key_is_shown_in_a_repr() -> None:
    url = "http://user:hunter2@proxy.test:3128"
    settings = ClientSettings(base_url="https://api.test", api_key="sk-key", proxy=url)
    assert settings.via == Proxy.parse(url)
    for shown in (repr(settings), repr(settings.via), str(settings.via)):
        assert "hunter2" not in shown
        assert "sk-key" not in shown
    assert str(settings.via) == "http://proxy.test:3128"
    with Client("https://api.test", api_key="sk-key", proxy=url) as client:
        assert repr(client) == "<Client https://api.test proxy=http://proxy.test:3128 api_key=set>"


def test_the_client_reads_the_environment_when_made(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "socks5h://tor.test:9050")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    assert ClientSettings(base_url="https://api.test").via == Proxy.parse("socks5h://tor.test:9050")
    assert ClientSettings(base_url="https://api.test", trust_env=False).via is None
    given = ClientSettings(base_url="https://api.test", proxy="http://mine.test:1")
    assert given.via == Proxy.parse("http://mine.test:1")  # proxy= wins over the variables
    monkeypatch.setenv("NO_PROXY", "api.test")
    assert ClientSettings(base_url="https://api.test").via is None


def test_trust_env_must_be_a_bool() -> None:
    with pytest.raises(LocalProtocolError, match="trust_env"):
        ClientSettings(base_url="https://api.test", trust_env="no")  # type: ignore[arg-type]


# --- the trust store -------------------------------------------------------------------


def test_ssl_cert_file_and_dir_name_the_trust_store(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path))
    assert trust_store(True) == (str(tmp_path / "ca.pem"), str(tmp_path))
    # Without trust_env, OpenSSL's own locations are named, so that it reads no variable.
    paths = ssl.get_default_verify_paths()
    cafile, capath = trust_store(False)
    assert cafile in (None, paths.openssl_cafile)
    assert capath in (None, paths.openssl_capath)
    monkeypatch.delenv("SSL_CERT_FILE")
    monkeypatch.delenv("SSL_CERT_DIR")
    assert trust_store(True) == (None, None)
    assert trust_store(False) == (None, None)


def test_verify_takes_a_directory_of_certificates(tmp_path: Path) -> None:
    context = default_ssl_context(str(tmp_path))
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname


def test_the_pool_hands_out_connections_by_route() -> None:
    direct = Route(HTTPS, None)
    proxied = Route(HTTPS, Proxy.parse("http://proxy.test:3128"))
    other = Route(HTTPS, Proxy.parse("socks5://proxy.test:1080"))
    pool = ConnectionPool(max_keepalive=10, keepalive_expiry=5.0)
    protocol = ClientConnection("api.example.com")
    first, second = Connection("a", protocol, proxied), Connection("b", protocol, direct)
    assert pool.give_back(first, 0.0)
    assert pool.give_back(second, 0.0)
    assert pool.pop(other) is None
    assert pool.pop(proxied) is first
    assert pool.pop(proxied) is None
    assert pool.pop(direct) is second
