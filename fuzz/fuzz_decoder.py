"""atheris harness for ChunkDecoder: ``python fuzz/fuzz_decoder.py fuzz/corpus/decoder``.

Any libFuzzer option works (``-max_total_time=600``, ``-jobs=2``); see fuzz/README.md.
"""

import sys

import atheris

with atheris.instrument_imports():
    import purai_proto  # noqa: F401
    from fuzz.invariants import check_decoder

if __name__ == "__main__":
    atheris.Setup(sys.argv, check_decoder)
    atheris.Fuzz()
