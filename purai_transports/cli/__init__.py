"""The ``purai`` command line: ``main`` (:mod:`.main`), ``purai chat`` (:mod:`.chat`)
and ``purai bench`` (:mod:`.bench`)."""

from .main import main

__all__ = ["main"]
