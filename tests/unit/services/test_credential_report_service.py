"""GenerateCredentialReport / GetCredentialReport in IamService against a real Redis (db 7) and a
fixed clock: the states, the four-hour regeneration and expiry, the errors, the authorization."""
from __future__ import annotations

import pytest

from app.core.clock import FixedClock
from app.core.errors import AccessDenied, CredentialReportExpired, CredentialReportNotPresent
from app.services.iam import IamService
from tests.redis_target import redis_url
from tests.unit.services.test_iam_service import (  # noqa: F401 - the fixtures, on this module's db
    NOW,
    ROOT,
    Authz,
    authz,
    clock,
    iam,
    store,
)

URL = redis_url(7)


def users_in(report: dict[str, object]) -> list[str]:
    content = report["content"]
    assert isinstance(content, bytes)
    return [line.split(",")[0] for line in content.decode().splitlines()[1:]]


async def test_states_regeneration_and_expiry(iam: IamService, clock: FixedClock) -> None:
    with pytest.raises(CredentialReportNotPresent):
        await iam.get_credential_report(ROOT)
    await iam.create_user(ROOT, user_name="alice")
    assert await iam.generate_credential_report(ROOT) == {
        "state": "STARTED", "description": "No report exists. Starting a new report generation task"}
    report = await iam.get_credential_report(ROOT)
    assert report["report_format"] == "text/csv" and report["generated_time"] == NOW
    assert users_in(report) == ["<root_account>", "alice"]

    await iam.create_user(ROOT, user_name="bob")
    clock.advance(4 * 3600 - 1)
    assert await iam.generate_credential_report(ROOT) == {"state": "COMPLETE"}
    assert users_in(await iam.get_credential_report(ROOT)) == ["<root_account>", "alice"]

    clock.advance(1)
    with pytest.raises(CredentialReportExpired):
        await iam.get_credential_report(ROOT)
    assert (await iam.generate_credential_report(ROOT))["state"] == "STARTED"
    report = await iam.get_credential_report(ROOT)
    assert report["generated_time"] == NOW + 4 * 3600
    assert users_in(report) == ["<root_account>", "alice", "bob"]


async def test_authorized_on_star(iam: IamService, authz: Authz) -> None:
    await iam.generate_credential_report(ROOT)
    await iam.get_credential_report(ROOT)
    assert [(a, r) for a, r, _, _ in authz.calls] == [
        ("iam:GenerateCredentialReport", "*"), ("iam:GetCredentialReport", "*")]
    authz.deny = {"iam:GetCredentialReport"}
    with pytest.raises(AccessDenied):
        await iam.get_credential_report(ROOT)
