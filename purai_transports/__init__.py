"""purai_transports: thin drivers that move bytes between sockets and purai_proto.

Every protocol decision lives in :mod:`purai_proto`; the modules here only do I/O.
"""
