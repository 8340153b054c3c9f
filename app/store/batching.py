"""Automatic pipelining of the hot-path commands over redis-py.

Every request on the hot path issues one or two small commands (an MGET of the IAM epoch
and a session, a SET of a new session). redis-py spends ~70 µs of CPU per command on its
connection pool, locks and timeouts; commands issued by concurrent requests within one
event-loop iteration are therefore gathered and sent as ONE non-transactional pipeline
(one write, one read, one pool checkout), which costs ~20 µs per command under load. Each
caller still gets its own result or its own exception; a failed round trip fails every
command of the batch with the connection error, which the wire maps to ServiceUnavailable.
"""
from __future__ import annotations

import asyncio
from typing import Any

MAX_BATCH = 128


class AutoPipeline:
    """The subset of the redis-py asyncio API the hot path uses: `get`, `mget`, `set`."""

    def __init__(self, redis: Any, *, max_batch: int = MAX_BATCH) -> None:
        self._redis = redis
        self._max = max_batch
        self._pending: list[tuple[str, tuple[Any, ...], dict[str, Any], asyncio.Future[Any]]] = []
        self._scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()

    async def get(self, key: str) -> Any:
        return await self._submit("get", (key,), {})

    async def mget(self, *keys: str) -> Any:
        return await self._submit("mget", keys, {})

    async def set(self, key: str, value: Any, **options: Any) -> Any:
        return await self._submit("set", (key, value), options)

    def _submit(self, name: str, args: tuple[Any, ...], options: dict[str, Any]) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._pending.append((name, args, options, future))
        if len(self._pending) >= self._max:
            self._flush()
        elif not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        return future

    def _flush(self) -> None:
        batch, self._pending, self._scheduled = self._pending, [], False
        if batch:
            task = asyncio.ensure_future(self._run(batch))
            self._tasks.add(task)  # keep a reference until it finishes
            task.add_done_callback(self._tasks.discard)

    async def _run(self, batch: list[tuple[str, tuple[Any, ...], dict[str, Any], asyncio.Future[Any]]]) -> None:
        try:
            if len(batch) == 1:
                name, args, options, _ = batch[0]
                results = [await getattr(self._redis, name)(*args, **options)]
            else:
                pipe = self._redis.pipeline(transaction=False)
                for name, args, options, _ in batch:
                    getattr(pipe, name)(*args, **options)
                results = await pipe.execute(raise_on_error=False)
        except BaseException as exc:  # noqa: BLE001 - handed to every waiting caller
            for *_, future in batch:
                if not future.done():
                    if isinstance(exc, asyncio.CancelledError):
                        future.cancel()
                    else:
                        future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for (*_, future), result in zip(batch, results):
            if future.done():
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)
