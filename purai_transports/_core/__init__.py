"""The client logic, once for every transport.

* :mod:`.settings`: where to connect and how long to wait (``Origin``, ``Timeout``);
  :mod:`.paths`: the default endpoint and base URL.
* :mod:`.exchange`: one request and its reply as a generator of operations: the
  pool, retries, re-sending and deadlines.
* :mod:`.operations`: the I/O an exchange asks for; :mod:`.runners`: the blocking
  and the async loop that perform it with a backend.
* :mod:`.clients`, :mod:`.async_clients`: what the public clients share.
* :mod:`.errors`: the exceptions every transport raises.
"""
