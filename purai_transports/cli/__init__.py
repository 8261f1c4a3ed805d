"""The ``purai`` command line: ``main`` and ``decode``/``serve`` (:mod:`.main`),
``purai chat`` (:mod:`.chat`, with :mod:`.conversation` for a conversation on a
terminal, :mod:`.sessions` for its client, :mod:`.printer` for the reply and
:mod:`.options` for checking option values) and ``purai bench`` (:mod:`.bench`)."""

from .main import main

__all__ = ["main"]
