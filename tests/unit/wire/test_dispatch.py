from __future__ import annotations

import pytest

from app.core.errors import InvalidAction
from app.core.records import Call, RequestMeta
from app.wire.dispatch import Dispatcher

CALL = Call(None, RequestMeta(request_id="r", received_at=0.0))


class Service:
    async def create_role(self, call, *, role_name, path="/", tags=()):
        return {"seen": (role_name, path, tags)}

    async def get_caller_identity(self, call, **extra):
        return {"extra": extra}


async def test_members_become_snake_case_keywords_and_unknown_ones_are_dropped():
    d = Dispatcher({"iam": Service()})
    adapter = d.adapter("iam", "CreateRole", ("Path", "RoleName", "MaxSessionDuration", "Tags"))
    out = await adapter(CALL, {"RoleName": "r", "Tags": [], "MaxSessionDuration": 7200})
    assert out == {"seen": ("r", "/", [])}


async def test_var_keyword_methods_receive_every_member():
    d = Dispatcher({"sts": Service()})
    out = await d.adapter("sts", "GetCallerIdentity", ("MinimumSessionTokenSize",))(CALL, {"MinimumSessionTokenSize": 5})
    assert out == {"extra": {"minimum_session_token_size": 5}}


async def test_unimplemented_operation_is_invalid_action():
    d = Dispatcher({"iam": Service()})
    assert not d.supports("iam", "CreateSAMLProvider")
    with pytest.raises(InvalidAction) as exc:
        await d.adapter("iam", "CreateSAMLProvider", ())(CALL, {})
    assert "CreateSAMLProvider" in exc.value.message
    assert d.adapter("iam", "CreateSAMLProvider", ()) is d.adapter("iam", "CreateSAMLProvider", ())
