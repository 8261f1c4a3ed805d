"""What several test modules share: scripted servers, subprocesses, splitters, a terminal.

Test modules never import each other; what two of them need lives here (or, for
fixtures, in a ``conftest.py``).
"""
