"""Password hashing: argon2id (argon2-cffi, RFC 9106's low-memory profile: 64 MiB, 3 passes,
4 lanes), always off the event loop, on a small pool of its own so a burst of password work
never takes the default executor's threads nor more than `workers` × 64 MiB of memory.

Only hashes leave this module; a password is never logged and never stored."""
from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

WORKERS = 4


class Passwords:
    def __init__(self, *, workers: int = WORKERS, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher()  # argon2id by default
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="argon2")

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def _any(self, hashes: Sequence[str], password: str) -> bool:
        return any(self._verify(h, password) for h in hashes)

    async def hash(self, password: str) -> str:
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._hasher.hash,
                                                                password)

    async def verify(self, password_hash: str, password: str) -> bool:
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._verify,
                                                                password_hash, password)

    async def matches_any(self, hashes: Sequence[str], password: str) -> bool:
        """Whether `password` is the password of any of `hashes` (reuse prevention)."""
        if not hashes:
            return False
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._any,
                                                                list(hashes), password)
