"""Counting what a multiplexer writes to its socket (tests of one write per loop iteration)."""
from __future__ import annotations

from app.store.multiplex import MultiplexedRedis


def counting_writes(hot: MultiplexedRedis) -> list[object]:
    """The writes to the socket of `hot`'s (open) connection from now on, as they are made:
    redis-py's (`writelines`) and the multiplexer's own (`write`)."""
    writer, writes = hot._conn._writer, []
    for name in ("write", "writelines"):
        real = getattr(writer, name)
        setattr(writer, name, lambda data, real=real: (writes.append(data), real(data))[1])
    return writes
