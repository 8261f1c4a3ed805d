"""The public API: every public name is documented."""

from __future__ import annotations

import dataclasses
import importlib
import inspect

import pytest

from purai_transports import ClientSettings
from purai_transports.anyio import AsyncClient
from purai_transports.blocking import Client
from purai_transports.trio import TrioClient

PUBLIC_MODULES = [
    "purai_proto",
    "purai_transports",
    "purai_transports.blocking",
    "purai_transports.anyio",
    "purai_transports.trio",
    "purai_transports.sockets",
    "purai_transports.server",
]


def public_objects() -> list[tuple[str, object]]:
    found: list[tuple[str, object]] = []
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        found.append((module_name, module))
        for name in module.__all__:
            value = getattr(module, name)
            if inspect.isclass(value) or inspect.isfunction(value):
                found.append((f"{module_name}.{name}", value))
                for attribute, member in vars(value).items() if inspect.isclass(value) else ():
                    if not attribute.startswith("_") and (
                        inspect.isfunction(member) or isinstance(member, property)
                    ):
                        found.append((f"{module_name}.{name}.{attribute}", member))
    return found


@pytest.mark.parametrize(("name", "value"), public_objects(), ids=lambda v: str(v)[:60])
def test_every_public_name_has_a_docstring(name: str, value: object) -> None:
    doc = inspect.getdoc(value)
    assert doc, f"{name} has no docstring"
    assert len(doc) > 10, f"{name} has a docstring that says nothing"


def test_the_clients_take_exactly_the_settings_with_their_defaults() -> None:
    # The settings are defined once, in ClientSettings; the one signature the clients
    # share must name each of them, in order, with its default.
    fields = [f for f in dataclasses.fields(ClientSettings) if f.init]
    expected = [(f.name, f.default) for f in fields]
    for client in (Client, AsyncClient, TrioClient):
        parameters = list(inspect.signature(client).parameters.values())
        assert [(p.name, p.default) for p in parameters] == expected, client
        assert all(p.kind is p.KEYWORD_ONLY for p in parameters[1:]), client


def test_client_settings_never_show_the_api_key() -> None:
    settings = ClientSettings(base_url="http://127.0.0.1:1", api_key="sk-secret")
    assert settings.api_key == "sk-secret"
    assert "sk-secret" not in repr(settings)
