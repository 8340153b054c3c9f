"""A store failure while a new browser sign-in replaces the current one is the 503 page with
nothing made, never a crash (the SAML consumer, with the other party and the store as stubs)."""
from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from starlette.requests import Request

from app.sso.cookies import Cookies
from app.sso.routes import SsoDeps, SsoPages
from app.store.secretbox import SecretBox

JAR = Cookies(SecretBox(b"k" * 32), secure=False)


class Sso:
    def __init__(self) -> None:
        self.created: list[Any] = []
        self.ended: list[str] = []

    async def end(self, handle: str) -> None:
        self.ended.append(handle)
        raise RedisConnectionError("the store went away")

    async def create(self, *args: Any, **kwargs: Any) -> tuple[str, Any]:
        self.created.append(args)
        return "new", SimpleNamespace()


class Login:
    async def saml_sign_in(self, saml: str) -> tuple[Any, None]:
        record = SimpleNamespace(arn="arn:aws:iam::123456789012:saml-provider/Idp", name="Idp")
        return SimpleNamespace(record=record, identity=SimpleNamespace(subject="alice")), None


def request(cookie: str) -> Request:
    body = b"SAMLResponse=PHNhbWw%2BPC9zYW1sPg%3D%3D"
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    headers = [(b"content-type", b"application/x-www-form-urlencoded"), (b"cookie", cookie.encode()),
               (b"content-length", str(len(body)).encode())]
    return Request({"type": "http", "method": "POST", "path": "/saml", "headers": headers, "query_string": b"",
                    "client": ("127.0.0.1", 5000), "scheme": "http", "server": ("127.0.0.1", 8080)}, receive)


def test_a_store_failure_ending_the_previous_sign_in_is_a_503_with_nothing_made() -> None:
    sso = Sso()
    audit = SimpleNamespace(record=lambda *a, **k: "ref-1")
    deps = SsoDeps(login=Login(), sso=sso, audit=audit, cookies=JAR, clock=SimpleNamespace(time=lambda: 0.0),
                   public_url="http://127.0.0.1:8080", entity_id="http://127.0.0.1:8080/saml")  # type: ignore[arg-type]
    cookie = f"{JAR.signin_name}={JAR.value(JAR.signin_name, 'o' * 43)}"
    response = asyncio.run(SsoPages(deps).acs(request(cookie)))
    assert response.status_code == 503
    assert sso.ended == ["o" * 43] and sso.created == []  # the new sign-in was never made
