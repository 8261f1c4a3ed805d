"""atheris harness for ClientConnection: ``python fuzz/fuzz_connection.py fuzz/corpus/connection``.

Any libFuzzer option works (``-max_total_time=600``, ``-jobs=2``); see fuzz/README.md.
"""

import sys

import atheris

with atheris.instrument_imports():
    import h11  # noqa: F401

    import purai_proto  # noqa: F401
    from fuzz.invariants import check_connection

if __name__ == "__main__":
    atheris.Setup(sys.argv, check_connection)
    atheris.Fuzz()
