"""The Authorizer's access advisor hook: every allowed decision of a signed caller is noted
(`require`, and `decide` for the caller's own permission), denied ones and the root's are not,
and `note` records what no policy decides (GetCallerIdentity)."""
from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
import redis.asyncio as aioredis

from app.core.clock import FixedClock
from app.core.errors import AccessDenied
from app.core.records import Call, Caller, RequestMeta
from app.services.authz import Authorizer
from app.store.iam_store import IamStore
from app.store.secretbox import SecretBox
from tests.redis_target import redis_url

URL = redis_url(14)
ACCT = "123456789012"
NOW = float(int(time.time()))
ALLOW_GET_USER = json.dumps({"Version": "2012-10-17",
                             "Statement": [{"Effect": "Allow", "Action": "iam:GetUser", "Resource": "*"}]})


class Notes:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str | None]] = []

    def note(self, caller: Caller, action: str, region: str | None) -> None:
        self.seen.append((caller.arn, action, region))


def test_allowed_decisions_are_noted_denied_ones_and_the_roots_are_not() -> None:
    async def run() -> tuple[list[Any], str]:
        client = aioredis.Redis.from_url(URL, decode_responses=True)
        await client.flushdb()
        try:
            iam = IamStore(client, account=ACCT, box=SecretBox(b"z" * 32), clock=FixedClock(NOW))
            user = await iam.create_user("alice")
            await iam.put_inline("user", "alice", "p", ALLOW_GET_USER, len(ALLOW_GET_USER))
            notes = Notes()
            authz = Authorizer(iam, account=ACCT, clock=FixedClock(NOW), usage=notes)
            meta = RequestMeta(request_id="r", received_at=NOW, region="eu-west-1")
            call = Call(Caller("user", ACCT, user.arn, user.user_id, user.arn, "AKIAX", name="alice"), meta)
            await authz.require(call, "iam:GetUser", user.arn)
            with pytest.raises(AccessDenied):
                await authz.require(call, "iam:DeleteUser", user.arn)
            assert (await authz.decide(call, "iam:GetUser", user.arn)).allowed
            assert not (await authz.decide(call, "iam:ListRoles", "*")).allowed
            root_arn = f"arn:aws:iam::{ACCT}:root"
            root = Call(Caller("root", ACCT, root_arn, ACCT, root_arn, "AKIAROOT"), meta)
            await authz.require(root, "iam:GetUser", user.arn)
            authz.note(call, "sts:GetCallerIdentity")
            authz.note(Call(None, meta), "sts:GetCallerIdentity")  # unsigned: nobody to note
            return notes.seen, user.arn
        finally:
            await client.flushdb()
            await client.aclose()

    seen, arn = asyncio.run(run())
    assert seen == [(arn, "iam:GetUser", "eu-west-1"), (arn, "iam:GetUser", "eu-west-1"),
                    (arn, "sts:GetCallerIdentity", "eu-west-1")]
