"""The public API: every public name is documented."""

from __future__ import annotations

import importlib
import inspect

import pytest

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
