"""The decoder benchmark that ships with the package: ``purai bench`` measures with it,
and the full suites of a checkout's ``benchmarks/`` import it.

* :mod:`.bodies`: a body to measure, its framing told and its objects found;
* :mod:`.corpus`: seeded chunk objects, and the built-in bodies in every framing;
* :mod:`.peers`: what is timed (``ChunkDecoder``, msgspec's limit, json, ijson, orjson);
* :mod:`.measure`: how it is timed (round-robin, medians, counts checked, ratios);
* :mod:`.compare`: one body's rows, the decoder beside the limit and every peer;
* :mod:`.report`: tables and the facts about the machine.

Not part of the sans-IO core: it reads the clock.
"""
