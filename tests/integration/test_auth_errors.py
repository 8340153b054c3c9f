"""SigV4 and credential failures through the real server, with AWS's codes and statuses."""
from __future__ import annotations

import datetime as dt

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from .conftest import REGION, ROOT_AKID, ROOT_SECRET, client

BODY = "Action=GetCallerIdentity&Version=2011-06-15"


def signed(url: str, akid: str, secret: str, *, token: str | None = None, body: str = BODY, when: dt.datetime | None = None, service: str = "sts") -> AWSRequest:
    req = AWSRequest(method="POST", url=url + "/", data=body, headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    auth = SigV4Auth(Credentials(akid, secret, token), service, REGION)
    if when is not None:
        auth._timestamp = lambda: when.strftime("%Y%m%dT%H%M%SZ")  # type: ignore[method-assign]
        real = dt.datetime

        class Frozen(dt.datetime):
            @classmethod
            def utcnow(cls):  # noqa: D102
                return when.replace(tzinfo=None)

            @classmethod
            def now(cls, tz=None):  # noqa: D102
                return when if tz else when.replace(tzinfo=None)

        import botocore.auth as ba

        ba.datetime.datetime = Frozen  # type: ignore[misc]
        try:
            auth.add_auth(req)
        finally:
            ba.datetime.datetime = real  # type: ignore[misc]
    else:
        auth.add_auth(req)
    return req


def send(req: AWSRequest, *, body: bytes | None = None) -> httpx.Response:
    return httpx.post(req.url, content=body if body is not None else req.body, headers=dict(req.headers.items()))


def error_code(resp: httpx.Response) -> str:
    text = resp.text
    return text.split("<Code>", 1)[1].split("</Code>", 1)[0]


def test_valid_signature(server):
    resp = send(signed(server.url, ROOT_AKID, ROOT_SECRET))
    assert resp.status_code == 200, resp.text
    assert "<GetCallerIdentityResult>" in resp.text
    assert resp.headers["x-amzn-RequestId"]


def test_tampered_body(server):
    req = signed(server.url, ROOT_AKID, ROOT_SECRET)
    resp = send(req, body=(BODY + "&X=1").encode())
    assert resp.status_code == 403 and error_code(resp) == "SignatureDoesNotMatch"


def test_tampered_signature(server):
    req = signed(server.url, ROOT_AKID, ROOT_SECRET)
    auth = req.headers["Authorization"]
    last = auth[-1]
    req.headers.replace_header("Authorization", auth[:-1] + ("0" if last != "0" else "1"))
    resp = send(req)
    assert resp.status_code == 403 and error_code(resp) == "SignatureDoesNotMatch"


def test_wrong_secret(server):
    resp = send(signed(server.url, ROOT_AKID, "x" * 40))
    assert resp.status_code == 403 and error_code(resp) == "SignatureDoesNotMatch"
    assert "x" * 40 not in resp.text


def test_unknown_key(server):
    resp = send(signed(server.url, "AKIAUNKNOWNKEY000000", ROOT_SECRET))
    assert resp.status_code == 403 and error_code(resp) == "InvalidClientTokenId"


def test_missing_authentication(server):
    resp = httpx.post(server.url + "/", content=BODY, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert resp.status_code == 403 and error_code(resp) == "MissingAuthenticationToken"


def test_malformed_authorization(server):
    resp = httpx.post(
        server.url + "/",
        content=BODY,
        headers={"Content-Type": "application/x-www-form-urlencoded", "Authorization": "AWS4-HMAC-SHA256 garbage", "X-Amz-Date": "20261128T000000Z"},
    )
    assert resp.status_code == 400 and error_code(resp) == "IncompleteSignature"


@pytest.mark.parametrize("minutes", [-20, 20])
def test_skewed_clock(server, minutes):
    when = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=minutes)
    resp = send(signed(server.url, ROOT_AKID, ROOT_SECRET, when=when))
    assert resp.status_code == 403 and error_code(resp) == "SignatureDoesNotMatch"
    assert ("Signature expired" in resp.text) if minutes < 0 else ("Signature not yet current" in resp.text)


def test_small_skew_accepted(server):
    when = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=10)
    assert send(signed(server.url, ROOT_AKID, ROOT_SECRET, when=when)).status_code == 200


def test_inactive_key(server, make_user, root_iam):
    user = make_user(None)
    sts = user.client(server, "sts")
    sts.get_caller_identity()
    root_iam.update_access_key(UserName=user.name, AccessKeyId=user.akid, Status="Inactive")
    with pytest.raises(ClientError) as exc:
        sts.get_caller_identity()
    assert exc.value.response["Error"]["Code"] == "InvalidClientTokenId"
    root_iam.update_access_key(UserName=user.name, AccessKeyId=user.akid, Status="Active")
    assert sts.get_caller_identity()["Arn"] == user.arn


def test_deleted_key(server, make_user, root_iam):
    user = make_user(None)
    root_iam.delete_access_key(UserName=user.name, AccessKeyId=user.akid)
    with pytest.raises(ClientError) as exc:
        user.client(server, "sts").get_caller_identity()
    assert exc.value.response["Error"]["Code"] == "InvalidClientTokenId"


def _session(server, make_user):
    user = make_user(None)
    return user.client(server, "sts").get_session_token(DurationSeconds=900)["Credentials"]


def test_forged_session_token(server, make_user):
    creds = _session(server, make_user)
    token = creds["SessionToken"]
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    sts = client(server, "sts", creds["AccessKeyId"], creds["SecretAccessKey"], forged)
    with pytest.raises(ClientError) as exc:
        sts.get_caller_identity()
    assert exc.value.response["Error"]["Code"] == "InvalidClientTokenId"
    missing = client(server, "sts", creds["AccessKeyId"], creds["SecretAccessKey"])
    with pytest.raises(ClientError) as exc:
        missing.get_caller_identity()
    assert exc.value.response["Error"]["Code"] == "InvalidClientTokenId"


def test_session_token_of_another_session(server, make_user):
    a = _session(server, make_user)
    b = _session(server, make_user)
    sts = client(server, "sts", a["AccessKeyId"], a["SecretAccessKey"], b["SessionToken"])
    with pytest.raises(ClientError) as exc:
        sts.get_caller_identity()
    assert exc.value.response["Error"]["Code"] == "InvalidClientTokenId"


def test_expired_session(server, make_user):
    import redis

    from .conftest import REDIS_URL

    creds = _session(server, make_user)
    sts = client(server, "sts", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    sts.get_caller_identity()
    r = redis.Redis.from_url(REDIS_URL)
    key = next(k for k in r.scan_iter(match=f"*{creds['AccessKeyId']}*"))
    r.delete(key)  # Redis expiry is what ends a session: simulate the TTL passing
    with pytest.raises(ClientError) as exc:
        sts.get_caller_identity()
    assert exc.value.response["Error"]["Code"] in ("ExpiredToken", "InvalidClientTokenId")


def test_presigned_url(server):
    sts = client(server, "sts", ROOT_AKID, ROOT_SECRET)
    url = sts.generate_presigned_url("get_caller_identity", Params={}, ExpiresIn=60)
    assert httpx.post(url).status_code == 200
    url = sts.generate_presigned_url("get_caller_identity", Params={}, ExpiresIn=60, HttpMethod="GET")
    resp = httpx.get(url)
    assert resp.status_code == 200 and "<Arn>" in resp.text


def test_secrets_not_in_logs(server, make_user):
    user = make_user(None)
    creds = user.client(server, "sts").get_session_token(DurationSeconds=900)["Credentials"]
    client(server, "sts", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]).get_caller_identity()
    log = server.log()
    assert user.secret not in log
    assert creds["SecretAccessKey"] not in log
    assert creds["SessionToken"] not in log
    assert ROOT_SECRET not in log
