"""Redis Cluster as the store (placeholder: being built)."""
from __future__ import annotations

from typing import Any


def connect_cluster(url: str, *, max_connections: int = 64, wait: float = 5.0) -> Any:
    raise ValueError("redis+cluster:// URLs are not supported yet")
