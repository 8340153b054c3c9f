"""Access advisor's request-path half (which entity a caller's use counts for, the per-pair
gate, a failed write never raised) and the pure report building (latest use per service and
per action, the tracking period, the entity that used it)."""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

import pytest

from app.core.clock import FixedClock
from app.core.records import Caller, Session
from app.services.iam.access_report import TRACKING_PERIOD, services, uses
from app.services.iam.access_subject import Tracked
from app.services.last_accessed import AccessUsage, entity_of
from app.services.last_used import EVERY, GLOBAL_REGION
from app.store.access_usage import Access, decode, decode_hash, encode

ACCT = "123456789012"
NOW = 1_700_000_000.0
USER_ARN = f"arn:aws:iam::{ACCT}:user/alice"
ROLE_ARN = f"arn:aws:iam::{ACCT}:role/deploy"


def session(kind: str, principal_id: str) -> Session:
    return Session(access_key_id="ASIAEXAMPLE000000001", secret_access_key="s", kind=kind, account=ACCT,
                   arn="x", user_id="x", principal_arn=USER_ARN, principal_id=principal_id,
                   principal_name="n", issued_at=NOW, expires_at=NOW + 900)


USER = Caller("user", ACCT, USER_ARN, "AIDAALICE00000000001", USER_ARN, "AKIAALICE00000000001", "alice")
USER_SESSION = Caller("user", ACCT, USER_ARN, "AIDAALICE00000000001", USER_ARN, "ASIAEXAMPLE000000001", "alice",
                      session("user-session", "AIDAALICE00000000001"))
ROLE_SESSION = Caller("assumed-role", ACCT, f"arn:aws:sts::{ACCT}:assumed-role/deploy/s", "AROADEPLOY0000000001:s",
                      ROLE_ARN, "ASIAEXAMPLE000000001", "deploy", session("assumed-role", "AROADEPLOY0000000001"))
FEDERATED = Caller("federated-user", ACCT, f"arn:aws:sts::{ACCT}:federated-user/bob", f"{ACCT}:bob", USER_ARN,
                   "ASIAEXAMPLE000000001", "alice", session("federated-user", "AIDAALICE00000000001"))
ROOT_FEDERATED = Caller("federated-user", ACCT, f"arn:aws:sts::{ACCT}:federated-user/bob", f"{ACCT}:bob",
                        f"arn:aws:iam::{ACCT}:root", "ASIAEXAMPLE000000001", None, session("federated-user", ACCT))
ROOT = Caller("root", ACCT, f"arn:aws:iam::{ACCT}:root", ACCT, f"arn:aws:iam::{ACCT}:root", "AKIAROOT000000000001")


@pytest.mark.parametrize("caller, entity", [
    (USER, "AIDAALICE00000000001"), (USER_SESSION, "AIDAALICE00000000001"),
    (ROLE_SESSION, "AROADEPLOY0000000001"), (FEDERATED, "AIDAALICE00000000001"),
    (ROOT_FEDERATED, None), (ROOT, None)],
    ids=["user key", "user session", "role session: the role", "federated user: its user",
         "the root's federated user", "the root"])
def test_entity_of(caller: Caller, entity: str | None) -> None:
    assert entity_of(caller) == entity


class Writes:
    def __init__(self, fail: bool = False) -> None:
        self.calls: list[tuple[str, str, str, float]] = []
        self.fail = fail

    def record(self, entity_id: str, action: str, region: str, when: float) -> Awaitable[Any]:
        self.calls.append((entity_id, action, region, when))

        async def done() -> None:
            if self.fail:
                raise ConnectionError("down")
        return done()


def test_one_write_per_pair_a_minute() -> None:
    async def run() -> list[tuple[str, str, str, float]]:
        clock, writes = FixedClock(NOW), Writes()
        usage = AccessUsage(writes, clock)
        usage.note(USER, "iam:GetUser", "eu-west-1")
        usage.note(USER, "iam:GetUser", "eu-west-1")  # coalesced
        usage.note(USER, "iam:ListUsers", None)  # another action: its own write, the global region
        usage.note(ROLE_SESSION, "iam:GetUser", "us-west-2")  # another entity
        usage.note(ROOT, "iam:GetUser", "eu-west-1")  # not tracked
        clock.advance(EVERY - 1)
        usage.note(USER, "iam:GetUser", "eu-west-1")
        clock.advance(1)
        usage.note(USER, "iam:GetUser", "eu-west-2")  # a minute on: written again
        await asyncio.sleep(0)
        return writes.calls

    assert asyncio.run(run()) == [
        ("AIDAALICE00000000001", "iam:GetUser", "eu-west-1", NOW),
        ("AIDAALICE00000000001", "iam:ListUsers", GLOBAL_REGION, NOW),
        ("AROADEPLOY0000000001", "iam:GetUser", "us-west-2", NOW),
        ("AIDAALICE00000000001", "iam:GetUser", "eu-west-2", NOW + EVERY)]


def test_a_failed_write_is_logged_never_raised(caplog: pytest.LogCaptureFixture) -> None:
    async def run() -> None:
        AccessUsage(Writes(fail=True), FixedClock(NOW)).note(USER, "iam:GetUser", "eu-west-1")
        for _ in range(3):
            await asyncio.sleep(0)

    asyncio.run(run())
    assert "could not record access: ConnectionError" in caplog.text


def test_record_codec() -> None:
    assert encode(NOW + 0.7, "eu-west-1") == "1700000000 eu-west-1"
    assert decode("1700000000 eu-west-1") == Access(NOW, "eu-west-1")
    assert decode("garbage") is None
    assert decode_hash({"iam:GetUser": "1700000000 eu-west-1", "iam:Bad": "x y"}) == {
        "iam:GetUser": Access(NOW, "eu-west-1")}
    assert len(encode(NOW, "r" * 500)) == len("1700000000 ") + 64


ALICE = Tracked("USER", "alice", "AIDAALICE00000000001", "/", USER_ARN)
BOB = Tracked("USER", "bob", "AIDABOB0000000000001", "/", f"arn:aws:iam::{ACCT}:user/bob")


def test_latest_use_per_service_and_action() -> None:
    records = [{"iam:GetUser": Access(NOW - 100, "eu-west-1"), "sts:GetCallerIdentity": Access(NOW - 5, "us-east-1")},
               {"iam:GetUser": Access(NOW - 10, "eu-west-2"), "iam:ListUsers": Access(NOW - 50, "eu-west-2")}]
    out = {s["service_namespace"]: s for s in services(["iam", "s3", "sts"], [ALICE, BOB], records, NOW,
                                                         "ACTION_LEVEL")}
    assert out["iam"]["last_authenticated"] == NOW - 10
    assert out["iam"]["last_authenticated_entity"] == BOB.arn
    assert out["iam"]["last_authenticated_region"] == "eu-west-2"
    assert out["iam"]["total_authenticated_entities"] == 2
    assert [(a["action_name"], a["last_accessed_entity"]) for a in out["iam"]["tracked_actions_last_accessed"]] == [
        ("GetUser", BOB.arn), ("ListUsers", BOB.arn)]
    assert out["sts"]["last_authenticated_entity"] == ALICE.arn and out["sts"]["total_authenticated_entities"] == 1
    assert out["s3"] == {"service_name": "Amazon S3", "service_namespace": "s3", "total_authenticated_entities": 0}
    plain = services(["iam"], [ALICE, BOB], records, NOW, "SERVICE_LEVEL")
    assert "tracked_actions_last_accessed" not in plain[0]


def test_uses_older_than_the_tracking_period_are_left_out() -> None:
    records = [{"iam:GetUser": Access(NOW - TRACKING_PERIOD - 1, "eu-west-1"),
                "iam:ListUsers": Access(NOW - TRACKING_PERIOD, "eu-west-1")}]
    by_entity, by_action = uses([ALICE], records, NOW)
    assert list(by_action["iam"]) == ["ListUsers"]
    assert by_entity["iam"][ALICE.id].when == NOW - TRACKING_PERIOD
