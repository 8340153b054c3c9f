"""Last-used statistics on the request path: the per-key gate and the RoleLastUsed hook."""
from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import pytest

from app.core import arn
from app.core.clock import FixedClock
from app.core.records import Role
from app.services.last_used import EVERY, GLOBAL_REGION, OncePer, RoleUsage

ACCT = "123456789012"
NOW = 1_700_000_000.0


def role(name: str, role_id: str) -> Role:
    return Role(name, role_id, "/", arn.role(ACCT, "/", name), NOW, "{}")


DEPLOY = role("Deploy", "AROADEPLOY0000000001")
AUDIT = role("Audit", "AROAAUDIT00000000001")
DEPLOY_AGAIN = role("Deploy", "AROADEPLOY0000000002")  # deleted and created again: a new role

GATE = [
    # (note, [(key, seconds after NOW)], which events get through)
    ("first event of a key", [("a", 0)], [True]),
    ("repeat within the interval", [("a", 0), ("a", 1), ("a", EVERY - 0.001)], [True, False, False]),
    ("repeat at the interval", [("a", 0), ("a", EVERY)], [True, True]),
    ("keys are independent", [("a", 0), ("b", 1), ("a", 2), ("b", 3)], [True, True, False, False]),
    ("the clock going back lets one through", [("a", 10), ("a", 5), ("a", 6)], [True, True, False]),
]


@pytest.mark.parametrize("events, through", [c[1:] for c in GATE], ids=[c[0] for c in GATE])
def test_once_per(events: list[tuple[str, float]], through: list[bool]) -> None:
    gate = OncePer(EVERY)
    assert [gate.due(key, NOW + t) for key, t in events] == through


def test_once_per_memory_is_bounded() -> None:
    gate = OncePer(EVERY, memory=2)
    assert [gate.due(k, NOW) for k in ("a", "b", "c")] == [True, True, True]
    assert gate.due("c", NOW + 1) is False and len(gate._last) <= 2


class Recorder:
    def __init__(self, fail: bool = False) -> None:
        self.writes: list[tuple[str, str, str, float]] = []
        self.fail = fail

    def record(self, role_name: str, role_id: str, region: str, when: float) -> Awaitable[Any]:
        self.writes.append((role_name, role_id, region, when))

        async def done() -> bool:
            if self.fail:
                raise ConnectionError("Redis went away")
            return True

        return done()


async def note(usage: RoleUsage, r: Role, region: str | None) -> bool:
    pending = usage.note(r, region)
    if pending is None:
        return False
    await pending
    return True


async def test_role_usage_writes_once_a_minute_per_role_with_the_request_region() -> None:
    clock, store = FixedClock(NOW), Recorder()
    usage = RoleUsage(store, clock)
    assert await note(usage, DEPLOY, "eu-west-1") is True
    assert await note(usage, AUDIT, "eu-west-1") is True
    clock.advance(EVERY - 1)
    assert await note(usage, DEPLOY, "us-east-2") is False
    assert await note(usage, DEPLOY_AGAIN, "us-east-2") is True  # another role id: its own first use
    clock.advance(1)
    assert await note(usage, DEPLOY, "us-east-2") is True
    assert store.writes == [("Deploy", DEPLOY.role_id, "eu-west-1", NOW), ("Audit", AUDIT.role_id, "eu-west-1", NOW),
                            ("Deploy", DEPLOY_AGAIN.role_id, "us-east-2", NOW + EVERY - 1),
                            ("Deploy", DEPLOY.role_id, "us-east-2", NOW + EVERY)]


async def test_unsigned_calls_record_the_global_region() -> None:
    store = Recorder()
    await note(RoleUsage(store, FixedClock(NOW)), DEPLOY, None)
    assert store.writes[0][2] == GLOBAL_REGION == "us-east-1"


async def test_a_failed_write_never_fails_the_request(caplog: pytest.LogCaptureFixture) -> None:
    store = Recorder(fail=True)
    assert await note(RoleUsage(store, FixedClock(NOW)), DEPLOY, "eu-west-1") is True  # awaited, did not raise
    assert len(store.writes) == 1 and "could not record role last use: ConnectionError" in caplog.text
