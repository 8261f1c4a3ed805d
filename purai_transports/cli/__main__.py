"""``python -m purai_transports.cli``: the ``purai`` command."""

from .main import main

raise SystemExit(main())
