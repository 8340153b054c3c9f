"""argon2id hashing off the event loop."""
from __future__ import annotations

import asyncio

import pytest
from argon2 import PasswordHasher

from app.services.passwords import Passwords

FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@pytest.mark.asyncio
async def test_hash_is_argon2id_and_verifies() -> None:
    pw = Passwords(hasher=FAST)
    digest = await pw.hash("Correct-Horse-9")
    assert digest.startswith("$argon2id$") and "Correct-Horse-9" not in digest
    assert await pw.verify(digest, "Correct-Horse-9")
    assert not await pw.verify(digest, "correct-horse-9")
    assert not await pw.verify("not a hash", "Correct-Horse-9")


@pytest.mark.asyncio
async def test_default_parameters_are_argon2id() -> None:
    assert (await Passwords().hash("x")).startswith("$argon2id$v=19$m=65536,t=3,p=4$")


@pytest.mark.asyncio
async def test_matches_any() -> None:
    pw = Passwords(hasher=FAST)
    hashes = [await pw.hash(p) for p in ("one-1", "two-2")]
    assert await pw.matches_any(hashes, "two-2")
    assert not await pw.matches_any(hashes, "three-3")
    assert not await pw.matches_any([], "one-1")


@pytest.mark.asyncio
async def test_hashing_does_not_stall_the_event_loop() -> None:
    """While a slow hash runs, the loop keeps serving other work."""
    pw = Passwords(hasher=PasswordHasher(time_cost=8, memory_cost=65536, parallelism=1))
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    task = asyncio.create_task(ticker())
    await pw.hash("Correct-Horse-9")
    task.cancel()
    assert ticks >= 3
