"""Where the tests' Redis server is.

`TESSERA_TEST_REDIS` (host:port, default 127.0.0.1:6379) lets several test runs on one
machine use separate Redis servers; each module still picks its own database number.
"""
from __future__ import annotations

import os

HOSTPORT = os.environ.get("TESSERA_TEST_REDIS", "127.0.0.1:6379")


def redis_url(db: int) -> str:
    return f"redis://{HOSTPORT}/{db}"
