from __future__ import annotations

import hashlib
import io
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.audit import REDACTED, AuditEvent, AuditLog, JsonLogger, fingerprint, identity_of, scrub
from app.core.clock import FixedClock
from app.core.records import Caller, Credentials, Session

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
TOKEN = "FwoGZXIvYXdzEXAMPLE-session-token-value"
ASSERTION = "PHNhbWxwOlJlc3BvbnNlIHhtbG5zOnNhbWxwPSJ1cm4"
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
POLICY = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}'
SENSITIVE = {
    "SecretAccessKey": SECRET, "SessionToken": TOKEN, "SAMLAssertion": ASSERTION, "WebIdentityToken": JWT,
    "Password": "hunter2-pw", "NewPassword": "new-pw-123", "OldPassword": "old-pw-456",
    "PrivateKey": "-----BEGIN PRIVATE KEY-----abc", "TokenCode": "123456", "AuthenticationCode1": "654321",
    "AuthenticationCode2": "111222", "Base32StringSeed": "SEEDSEEDSEEDSEED",
}
LEAKS = [SECRET, TOKEN, ASSERTION, JWT, *SENSITIVE.values()]


def _creds() -> Credentials:
    return Credentials(access_key_id="ASIAEXAMPLE000000001", secret_access_key=SECRET, session_token=TOKEN,
                       expiration=1900000000.0)


def _event(**kw: object) -> AuditEvent:
    base: dict[str, object] = dict(
        event_time=1893456000.5, event_source="sts.amazonaws.com", event_name="AssumeRoleWithSAML",
        request_id="req-1", outcome="success", source_ip="10.0.0.1", user_agent="Boto3/1.44.8",
        user_identity={"type": "SAMLUser"}, aws_region="eu-west-1",
        request_parameters={"RoleArn": "arn:aws:iam::000000000000:role/r", "Policy": POLICY, **SENSITIVE,
                            "Tags": [{"Key": "k", "Value": "v", "session_token": TOKEN}]},
        response_elements={"credentials": _creds(), "assumed_role_user": {"arn": "arn:aws:sts::0:assumed-role/r/s"}},
    )
    base.update(kw)
    return AuditEvent(**base)  # type: ignore[arg-type]


def _lines(buf: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buf.getvalue().splitlines()]


def test_event_is_scrubbed_on_construction() -> None:
    e = _event()
    assert e.request_parameters is not None and e.response_elements is not None
    for key in SENSITIVE:
        assert e.request_parameters[key] == REDACTED
    assert e.request_parameters["Policy"] == POLICY  # policy documents are kept
    assert e.request_parameters["Tags"] == [{"Key": "k", "Value": "v", "session_token": REDACTED}]
    assert e.response_elements["credentials"] == {"accessKeyId": "ASIAEXAMPLE000000001", "expiration": 1900000000.0}
    assert e.response_elements["assumed_role_user"] == {"arn": "arn:aws:sts::0:assumed-role/r/s"}


@pytest.mark.parametrize("key", ["secret_access_key", "session_token", "saml_assertion", "web_identity_token",
                                 "new_password", "authentication_code_1", "X-Amz-Security-Token", "private_key",
                                 # CloudTrail's lowerCamelCase of the members
                                 "secretAccessKey", "sessionToken", "webIdentityToken", "sAMLAssertion",
                                 "samlAssertion", "password", "newPassword", "oldPassword", "privateKey",
                                 "authenticationCode1", "authenticationCode2", "tokenCode", "base32StringSeed",
                                 "qRCodePNG", "servicePassword"])
def test_python_wire_and_cloudtrail_spellings_are_all_scrubbed(key: str) -> None:
    assert scrub({key: "leak"}) == {key: REDACTED}


def test_credentials_are_reduced_to_access_key_id_and_expiration() -> None:
    assert scrub({"Credentials": "opaque"}) == {"Credentials": REDACTED}
    assert scrub({"Credentials": {"AccessKeyId": "AKIA1", "SecretAccessKey": SECRET}}) == {
        "Credentials": {"accessKeyId": "AKIA1"}}
    assert scrub({"credentials": {"accessKeyId": "ASIA1", "secretAccessKey": SECRET, "sessionToken": TOKEN,
                                  "expiration": "Mar 17, 2030 5:46:40 PM"}}) == {
        "credentials": {"accessKeyId": "ASIA1", "expiration": "Mar 17, 2030 5:46:40 PM"}}
    assert scrub({"credentials": _creds()}) == {
        "credentials": {"accessKeyId": "ASIAEXAMPLE000000001", "expiration": 1900000000.0}}
    # an expiration that is not a plain value, or an access key id that is not text, is not copied
    assert scrub({"credentials": {"accessKeyId": {"x": SECRET}, "expiration": [TOKEN]}}) == {
        "credentials": {"accessKeyId": REDACTED}}


def test_records_and_unknown_objects_never_render_secrets() -> None:
    class Leaky:
        def __str__(self) -> str:
            return SECRET

    out = json.dumps(scrub({"x": Leaky(), "creds": [_creds()], "blob": SECRET.encode()}))
    assert SECRET not in out and TOKEN not in out


def test_audit_log_line_has_no_secret() -> None:
    buf = io.StringIO()
    AuditLog(JsonLogger(buf, FixedClock(1893456000.25))).write(_event())
    AuditLog(JsonLogger(buf, FixedClock(1893456001))).write(_event(
        outcome="error", error_code="InvalidIdentityToken", error_message="token signature is invalid",
        reason="oidc_signature_invalid", user_identity={"type": "WebIdentityUser"}, response_elements=None))
    text = buf.getvalue()
    for leak in LEAKS:
        assert leak not in text, leak
    first, second = _lines(buf)
    assert first["event"] == "audit" and first["level"] == "info" and first["request_id"] == "req-1"
    assert first["ts"] == "2030-01-01T00:00:00.250Z" and first["eventTime"] == "2030-01-01T00:00:00Z"
    assert first["eventSource"] == "sts.amazonaws.com" and first["eventName"] == "AssumeRoleWithSAML"
    assert first["responseElements"] == {"credentials": {"accessKeyId": "ASIAEXAMPLE000000001",
                                                         "expiration": 1900000000.0},
                                         "assumed_role_user": {"arn": "arn:aws:sts::0:assumed-role/r/s"}}
    assert "errorCode" not in first
    assert second["level"] == "warning" and second["outcome"] == "error"
    assert (second["errorCode"], second["reason"]) == ("InvalidIdentityToken", "oidc_signature_invalid")


def test_logger_scrubs_fields_and_keeps_reserved_keys() -> None:
    buf = io.StringIO()
    log = JsonLogger(buf, FixedClock(0))
    log.info("sts.assume_role.success", request_id="r-9", session_token=TOKEN, token_fp=fingerprint(TOKEN),
             ts="spoofed", role="arn:aws:iam::0:role/x", note="line\nbreak")
    log.debug("http.request", path="/")  # below the default level
    assert TOKEN not in buf.getvalue() and len(buf.getvalue().splitlines()) == 1
    (line,) = _lines(buf)
    assert line == {"ts": "1970-01-01T00:00:00.000Z", "level": "info", "event": "sts.assume_role.success",
                    "request_id": "r-9", "session_token": REDACTED, "token_fp": fingerprint(TOKEN),
                    "role": "arn:aws:iam::0:role/x", "note": "line\nbreak"}


def test_fingerprint() -> None:
    assert fingerprint(SECRET) == hashlib.sha256(SECRET.encode()).hexdigest()[:8]
    assert fingerprint(SECRET.encode()) == fingerprint(SECRET) and len(fingerprint("x")) == 8
    assert fingerprint("a") != fingerprint("b")


def test_identity_of() -> None:
    caller = Caller(kind="assumed-role", account="000000000000", arn="arn:aws:sts::000000000000:assumed-role/r/s",
                    user_id="AROAEXAMPLE:s", principal_arn="arn:aws:iam::000000000000:role/r",
                    access_key_id="ASIAEXAMPLE000000001")
    assert identity_of(caller) == {"type": "AssumedRole", "arn": caller.arn, "accountId": "000000000000",
                                   "accessKeyId": "ASIAEXAMPLE000000001", "principalId": "AROAEXAMPLE:s"}
    assert identity_of(None, federated_type="SAMLUser") == {"type": "SAMLUser"}


def test_outcome_is_validated_and_level_known() -> None:
    with pytest.raises(ValueError):
        _event(outcome="maybe")
    with pytest.raises(ValueError):
        JsonLogger(io.StringIO(), FixedClock(0), level="loud")


def test_session_record_in_fields_is_scrubbed() -> None:
    session = Session(access_key_id="ASIA1", secret_access_key=SECRET, kind="assumed-role", account="0",
                      arn="a", user_id="u", principal_arn="p", principal_id="i", principal_name="n",
                      issued_at=0.0, expires_at=1.0)
    buf = io.StringIO()
    JsonLogger(buf, FixedClock(0)).error("sts.assume_role.error", session=session)
    assert SECRET not in buf.getvalue() and '"access_key_id":"ASIA1"' in buf.getvalue()


_keys = st.sampled_from([*SENSITIVE, "session_token", "RoleArn", "Tags", "Policy", "credentials", "x"])
_json = st.recursive(st.text(max_size=8) | st.integers() | st.none(),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=4),
                     max_leaves=20)


@settings(suppress_health_check=[HealthCheck.too_slow])  # recursive strategy: slow to generate on a cold start
@given(st.dictionaries(_keys, _json, max_size=6), st.sampled_from(LEAKS))
def test_no_sensitive_value_survives(params: dict[str, object], leak: str) -> None:
    planted = {**params, "SessionToken": leak, "Nested": [{"SAMLAssertion": leak, "x": {"password": leak}}]}
    buf = io.StringIO()
    AuditLog(JsonLogger(buf, FixedClock(0))).write(_event(request_parameters=planted))
    assert leak not in buf.getvalue()
    json.loads(buf.getvalue())


def test_logger_defaults_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    JsonLogger(None, FixedClock(0)).warning("http.request", request_id="r", status=503)
    assert json.loads(capsys.readouterr().err)["status"] == 503


def test_stdlib_errors_become_json_lines_without_tracebacks():
    import io
    import json
    import logging

    from app.audit.log import JsonLogger, install
    from app.core.clock import FixedClock

    buf = io.StringIO()
    install(JsonLogger(buf, FixedClock(0)), name="tessera.test-json")
    try:
        raise ValueError("secret-value-in-exception")
    except ValueError:
        logging.getLogger("tessera.test-json").exception("internal failure request_id=%s", "r-1")
    line = json.loads(buf.getvalue())
    assert line["event"] == "app.log" and line["level"] == "error"
    assert line["message"] == "internal failure request_id=r-1" and line["exc_type"] == "ValueError"
    assert "secret-value-in-exception" not in buf.getvalue()


def test_a_stdlib_record_may_name_its_event():
    import io
    import json
    import logging

    from app.audit.log import JsonLogger, install
    from app.core.clock import FixedClock

    buf = io.StringIO()
    install(JsonLogger(buf, FixedClock(0)), name="tessera.test-event")
    logging.getLogger("tessera.test-event").warning("lost %s", "it", extra={"event": "store.bootstrap.lost"})
    line = json.loads(buf.getvalue())
    assert line["event"] == "store.bootstrap.lost" and line["level"] == "warning" and line["message"] == "lost it"


class _CountingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


async def test_lines_of_one_loop_iteration_are_written_together() -> None:
    import asyncio

    stream = _CountingStream()
    logger = JsonLogger(stream, FixedClock(0))
    log = AuditLog(logger)
    log.write(_event(request_id="a"))
    log.write(_event(request_id="b"))
    assert stream.getvalue() == ""  # pending until the iteration ends
    await asyncio.sleep(0)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["requestID"] for line in lines] == ["a", "b"] and stream.writes == 1
    log.write(_event(request_id="c"))
    logger.flush()  # shutdown writes what is pending at once
    assert json.loads(stream.getvalue().splitlines()[-1])["requestID"] == "c" and stream.writes == 2


def test_outside_an_event_loop_lines_are_written_at_once() -> None:
    stream = _CountingStream()
    JsonLogger(stream, FixedClock(0)).info("plain.event", n=1)
    assert json.loads(stream.getvalue())["event"] == "plain.event" and stream.writes == 1


class _RecordingStream(io.StringIO):
    """Keeps every write apart; fails while `broken`."""

    def __init__(self) -> None:
        super().__init__()
        self.chunks: list[str] = []
        self.broken = False

    def write(self, text: str) -> int:
        if self.broken:
            raise OSError(28, "No space left on device")
        self.chunks.append(text)
        return super().write(text)


async def test_batched_lines_go_out_in_whole_lines_of_at_most_pipe_buf_bytes() -> None:
    import asyncio

    from app.audit.log import PIPE_BUF

    stream = _RecordingStream()
    logger = JsonLogger(stream, FixedClock(0))
    for i in range(40):
        logger.info("bulk.line", n=i, pad="é" * 150 if i % 3 else "x" * 300)
    await asyncio.sleep(0)
    assert len(stream.chunks) > 1
    for chunk in stream.chunks:
        assert len(chunk.encode()) <= PIPE_BUF and chunk.endswith("\n")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["n"] for line in lines] == list(range(40))


def test_a_failing_stream_keeps_the_lines_for_the_next_flush() -> None:
    stream = _RecordingStream()
    logger = JsonLogger(stream, FixedClock(0))
    stream.broken = True
    logger.info("first")
    logger.info("second")
    assert stream.getvalue() == "" and logger.lost == 0
    stream.broken = False
    logger.info("third")
    assert [json.loads(x)["event"] for x in stream.getvalue().splitlines()] == ["first", "second", "third"]


def test_lines_beyond_the_pending_bound_are_dropped_and_counted() -> None:
    from app.audit.log import MAX_PENDING

    stream = _RecordingStream()
    stream.broken = True
    logger = JsonLogger(stream, FixedClock(0))
    for i in range(MAX_PENDING + 5):
        logger.info("e", n=i)
    assert logger.lost == 5
    stream.broken = False
    logger.flush()
    lines = stream.getvalue().splitlines()
    assert len(lines) == MAX_PENDING and json.loads(lines[0])["n"] == 5  # the oldest went first


def test_audit_line_is_byte_exact() -> None:
    """The whole line, key order included: the log line of an AssumeRoleWithWebIdentity, with
    CloudTrail's requestParameters and responseElements (as app.wire.codec.trail shapes them; a
    token or secret key passed by mistake is still redacted)."""
    buf = io.StringIO()
    AuditLog(JsonLogger(buf, FixedClock(1893456000.25))).write(AuditEvent(
        event_time=1893456000.5, event_source="sts.amazonaws.com", event_name="AssumeRoleWithWebIdentity",
        request_id="req-1", outcome="success", source_ip="127.0.0.1",
        user_identity={"type": "WebIdentityUser", "userName": "sub"},
        request_parameters={"roleArn": "arn:aws:iam::000000000000:role/r", "webIdentityToken": JWT},
        response_elements={"credentials": {"accessKeyId": "ASIAEXAMPLE000000001", "secretAccessKey": SECRET,
                                           "expiration": "Mar 17, 2030 5:46:40 PM"},
                           "assumedRoleUser": {"arn": "a"}}))
    assert buf.getvalue() == (
        '{"ts":"2030-01-01T00:00:00.250Z","level":"info","event":"audit","request_id":"req-1",'
        '"eventVersion":"1.08","eventTime":"2030-01-01T00:00:00Z","eventSource":"sts.amazonaws.com",'
        '"eventName":"AssumeRoleWithWebIdentity","awsRegion":null,"sourceIPAddress":"127.0.0.1","userAgent":null,'
        '"userIdentity":{"type":"WebIdentityUser","userName":"sub"},"requestID":"req-1","outcome":"success",'
        '"requestParameters":{"roleArn":"arn:aws:iam::000000000000:role/r","webIdentityToken":"' + REDACTED + '"},'
        '"responseElements":{"credentials":{"accessKeyId":"ASIAEXAMPLE000000001",'
        '"expiration":"Mar 17, 2030 5:46:40 PM"},"assumedRoleUser":{"arn":"a"}}}\n')


def test_emitted_record_cannot_overwrite_the_line_keys() -> None:
    buf = io.StringIO()
    JsonLogger(buf, FixedClock(0)).emit("info", "audit", {"a": 1, "ts": "spoofed", "event": "x", "b": 2},
                                        request_id="r")
    assert buf.getvalue() == ('{"ts":"1970-01-01T00:00:00.000Z","level":"info","event":"audit","request_id":"r",'
                              '"a":1,"b":2}\n')


def test_scrub_keeps_at_most_max_items_and_reads_every_record_field() -> None:
    from app.audit.events import _MAX_ITEMS
    from app.core.records import Tag

    big = {f"k{i}": i for i in range(_MAX_ITEMS + 5)}
    assert scrub(big) == {f"k{i}": i for i in range(_MAX_ITEMS)}
    assert scrub(_creds()) == {"access_key_id": "ASIAEXAMPLE000000001", "secret_access_key": REDACTED,
                               "session_token": REDACTED, "expiration": 1900000000.0}
    assert scrub([Tag("k", "v")]) == [{"key": "k", "value": "v"}]


@given(st.floats(min_value=0, max_value=2**33, allow_nan=False))
def test_timestamp_is_the_second_and_its_truncated_milliseconds(t: float) -> None:
    from app.audit.log import _timestamp
    from app.core.clock import format_second

    whole = int(t)
    assert _timestamp(t) == f"{format_second(whole)}.{int((t - whole) * 1000):03d}Z"
