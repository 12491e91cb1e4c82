"""A Graph-compatible HTTP server over a local tenant, with fault injection (docs/emulator.md).

`running(source, seed=None, faults=None, port=0)` serves a `local:PATH` tenant or a snapshot
file on 127.0.0.1 in a background thread; `Emulator.url` is its Graph base URL and
`Emulator.counts()` the requests it answered per endpoint.
"""

from reconciler.emulator.server import Emulator, running

__all__ = ["Emulator", "running"]
