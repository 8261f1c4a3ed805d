"""The client logic, once for every transport.

* :mod:`.settings`: every client setting, once (``ClientSettings``), where to
  connect and how long to wait (``Origin``, ``Timeout``); :mod:`.paths`: the default
  endpoint and base URL; :mod:`.client_core`: a client's settings and its pool.
* :mod:`.exchange`: one request and its reply as a generator of operations: the
  pool, retries, re-sending and deadlines.
* :mod:`.operations`: the I/O an exchange asks for; :mod:`.runners`: the blocking
  and the async loop that perform it with a backend.
* :mod:`.clients`: the one signature, ``stream()`` and ``complete()`` of every
  client; :mod:`.async_clients`: what the async clients add.
* :mod:`.errors`: the exceptions every transport raises.
"""
