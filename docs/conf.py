"""Sphinx configuration for purai's documentation.

Build: ``sphinx-build -W -b html docs docs/_build/html`` (``pip install ".[docs]"``).
The pages are Markdown (MyST); the API reference comes from the docstrings.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent))

import purai_proto

project = "purai"
author = "The purai developers"
copyright = "2026, the purai developers"
release = version = purai_proto.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.intersphinx",
    "sphinx.ext.viewcode",
]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build"]
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
napoleon_google_docstring = True
napoleon_numpy_docstring = False

# Links into the documentation of Python, msgspec, anyio and trio. Their inventories
# are fetched over the network; a build without one (CI has no network but the
# package registries) sets PURAI_DOCS_OFFLINE=1, and those names are plain text.
intersphinx_mapping = (
    {}
    if os.environ.get("PURAI_DOCS_OFFLINE")
    else {
        "python": ("https://docs.python.org/3", None),
        "msgspec": ("https://jcristharif.com/msgspec", None),
        "anyio": ("https://anyio.readthedocs.io/en/stable", None),
        "trio": ("https://trio.readthedocs.io/en/stable", None),
    }
)

html_theme = "alabaster"
html_title = "purai"
