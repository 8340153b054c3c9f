"""The browser sign-in's walk over the account's roles (app.services.sso.account_roles), shared by
the OIDC sign-in's candidate roles and an IAM user's role picker, on a real IamStore (db 15):
a page starts after the lowercased name of the previous page's last role, as the store's index
and ListRoles' marker have it."""
from __future__ import annotations

import json

import redis.asyncio as aioredis

from app.core.clock import FixedClock
from app.services.sso import SsoService, account_roles
from app.store.iam_store import IamStore
from app.store.secretbox import SecretBox
from tests.redis_target import redis_url
from tests.unit.services.test_iam_service import ACCT, NOW

URL = redis_url(15)
PROVIDER = f"arn:aws:iam::{ACCT}:oidc-provider/idp.example"
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Federated": PROVIDER},
                                                             "Action": "sts:AssumeRoleWithWebIdentity"}]})


async def test_mixed_case_names_past_the_first_page(redis: aioredis.Redis) -> None:
    """Role names with capitals, more than one page of them: each is read once, the last page's
    too (a marker of the name as written would start the next page at the wrong place)."""
    store = IamStore(redis, account=ACCT, box=SecretBox(b"s" * 32), clock=FixedClock(NOW))
    names = [f"Deploy-{i:03d}" for i in range(130)]
    for name in names:
        await store.create_role(name, trust_policy=TRUST)
    assert [r.role_name async for r in account_roles(store)] == names
    sso = SsoService(None, None, store, None, account=ACCT, clock=FixedClock(NOW))  # type: ignore[arg-type]
    found = await sso._trusting_roles(PROVIDER)
    assert found == [f"arn:aws:iam::{ACCT}:role/{name}" for name in names]
