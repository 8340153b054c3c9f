"""CloudTrail's requestParameters and responseElements (app.wire.codec.trail), through the
request recorder as a request's audit event is written.

- tests/cases/cloudtrail/records.yaml: several actions' records against AWS's documented ones.
- every STS action, and every IAM action that carries a secret, with every member of its input
  and output filled from the model: no secret, token, password, MFA code, seed or private key
  reaches the audit line, whatever its name or nesting.
"""
from __future__ import annotations

import base64
import io
import json
import pathlib
import time
from datetime import datetime, timezone
from typing import Any

import pytest
import yaml
from botocore import xform_name

from app.audit.log import AuditLog, JsonLogger
from app.core.clock import FixedClock
from app.core.errors import AccessDenied
from app.core.records import Credentials
from app.wire.codec import QueryCodec
from app.wire.codec.trail import camel, trail_time
from app.wire.metrics import Metrics
from app.wire.observe import RequestRecorder
from app.wire.query import Outcome

CODEC = QueryCodec()
CASES = pathlib.Path(__file__).resolve().parents[2] / "cases" / "cloudtrail" / "records.yaml"
RECORDS = yaml.safe_load(CASES.read_text(encoding="utf-8"))


def _line(service: str, action: str, params: Any, result: Any, error: Any = None) -> tuple[str, dict[str, Any]]:
    buf = io.StringIO()
    logger = JsonLogger(buf, FixedClock(1893456000))
    recorder = RequestRecorder(metrics=Metrics(), audit=AuditLog(logger), logger=logger, clock=FixedClock(1893456000),
                               trails=CODEC.trail)
    recorder.record(Outcome("req-1", service, action, 200 if error is None else error.status, time.perf_counter(),
                            None, None, params, result, error))
    text = buf.getvalue()
    return text, json.loads(text.splitlines()[-1])  # the audit line is the last


@pytest.mark.parametrize("case", RECORDS, ids=[c["name"] for c in RECORDS])
def test_records_match_cloudtrail(case: dict[str, Any]) -> None:
    _, line = _line(case["service"], case["action"], case["params"], case["result"])
    assert line["eventName"] == case["action"]
    assert line["requestParameters"] == case["requestParameters"]
    assert line["responseElements"] == case["responseElements"]


def test_records_of_service_records_and_a_failed_request() -> None:
    """Results made of records (the services' dataclasses) read as dicts do; a refused request
    keeps its parameters and has no response elements."""
    creds = Credentials(access_key_id="ASIAEXAMPLE", secret_access_key="SECRETKEY", session_token="TOKEN",
                        expiration=1458700791.9)
    _, line = _line("sts", "GetSessionToken", {"DurationSeconds": 900}, {"credentials": creds})
    assert line["responseElements"] == {"credentials": {"accessKeyId": "ASIAEXAMPLE",
                                                        "expiration": "Mar 23, 2016 2:39:51 AM"}}
    text, line = _line("sts", "AssumeRole", {"RoleArn": "arn:aws:iam::1:role/r", "RoleSessionName": "s",
                                              "TokenCode": "123456"}, None, AccessDenied("no"))
    assert line["requestParameters"] == {"roleArn": "arn:aws:iam::1:role/r", "roleSessionName": "s"}
    assert line["responseElements"] is None and line["errorCode"] == "AccessDenied"
    assert "123456" not in text


def test_a_result_off_the_model_is_recorded_scrubbed_never_a_crash() -> None:
    """A result the shaper cannot read (a timestamp that is no time) is recorded as given,
    through the scrubber: the request is not failed by its audit."""
    result = {"credentials": {"AccessKeyId": "ASIA1", "SecretAccessKey": "SECRETKEY", "Expiration": "soon"}}
    text, line = _line("sts", "GetSessionToken", {"DurationSeconds": 900}, result)
    assert line["responseElements"] == {"credentials": {"accessKeyId": "ASIA1", "expiration": "soon"}}
    assert line["requestParameters"] == {"DurationSeconds": 900}
    assert "SECRETKEY" not in text
    warning = json.loads(text.splitlines()[0])  # and the operator is told, without the value
    assert (warning["event"], warning["action"], warning["exc_type"]) == ("audit.unshaped", "GetSessionToken",
                                                                         "ValueError")
    assert "soon" not in text.splitlines()[0]


@pytest.mark.parametrize(("name", "key"), [
    ("RoleArn", "roleArn"), ("SAMLAssertionID", "sAMLAssertionID"), ("ClientIDList", "clientIDList"),
    ("OpenIDConnectProviderArn", "openIDConnectProviderArn"), ("Url", "url"), ("QRCodePNG", "qRCodePNG"),
])
def test_keys_are_member_names_with_the_first_letter_lowered(name: str, key: str) -> None:
    assert camel(name) == key


@pytest.mark.parametrize(("value", "text"), [
    (0, "Jan 1, 1970 12:00:00 AM"),
    (43200.999, "Jan 1, 1970 12:00:00 PM"),
    (1458700791, "Mar 23, 2016 2:39:51 AM"),
    (1693251058.5, "Aug 28, 2023 7:30:58 PM"),
    (datetime(2023, 8, 28, 19, 30, 58), "Aug 28, 2023 7:30:58 PM"),
    (datetime(2023, 8, 28, 19, 30, 58, tzinfo=timezone.utc), "Aug 28, 2023 7:30:58 PM"),
    ("2023-08-28T19:30:58Z", "Aug 28, 2023 7:30:58 PM"),
])
def test_timestamps_are_written_as_cloudtrail_writes_them(value: Any, text: str) -> None:
    assert trail_time(value) == text


def test_shapers_are_compiled_once_per_operation() -> None:
    op = next(o for o in CODEC.operations("sts") if o.name == "AssumeRoleWithWebIdentity")
    assert CODEC.trail("sts", "AssumeRoleWithWebIdentity") is op.trail
    assert CODEC.trail("sso.tessera", "SignIn") is None


# ---- no secret in any audit line ----
# Members whose values are secrets, named independently of the code under test (the botocore
# model's `sensitive` trait is checked as well): keys, tokens, passwords, MFA codes and seeds.
SECRET_MEMBERS = frozenset({
    "SecretAccessKey", "SessionToken", "WebIdentityToken", "SAMLAssertion", "Password", "NewPassword",
    "OldPassword", "PrivateKey", "TokenCode", "AuthenticationCode1", "AuthenticationCode2", "Base32StringSeed",
    "QRCodePNG", "ServicePassword", "ServiceCredentialSecret", "ContextAssertion",
    "SubjectToken", "TradeInToken", "ClientSecret",
})
IAM_SECRET_CARRIERS = ["CreateAccessKey", "CreateLoginProfile", "UpdateLoginProfile", "ChangePassword",
                       "UploadSigningCertificate", "UploadServerCertificate", "UploadSSHPublicKey",
                       "EnableMFADevice", "ResyncMFADevice", "CreateVirtualMFADevice",
                       "CreateServiceSpecificCredential", "ResetServiceSpecificCredential"]
_IAM = {o.name: o for o in CODEC.operations("iam")}
OPERATIONS = [*CODEC.operations("sts"), *(_IAM[name] for name in IAM_SECRET_CARRIERS if name in _IAM)]


class _Filler:
    """A value for every member of a shape; members holding secrets get unique marked values."""

    def __init__(self, output: bool) -> None:
        self.output = output
        self.secrets: list[str] = []
        self.count = 0

    def value(self, shape: Any, name: str, secret: bool, depth: int = 0) -> Any:
        secret = secret or name in SECRET_MEMBERS or bool(shape.metadata.get("sensitive"))
        kind = shape.type_name
        if kind == "structure":
            if depth > 4:
                return None
            return {(xform_name(n) if self.output else n): self.value(m, n, secret, depth + 1)
                    for n, m in shape.members.items()}
        if kind == "list":
            return [self.value(shape.member, name, secret, depth + 1)]
        if kind == "map":
            return {"k": self.value(shape.value, name, secret, depth + 1)}
        if kind in ("string", "blob"):
            self.count += 1
            if not secret:
                return f"plain-{self.count}"
            marked = f"LEAK{self.count:04d}{name}X"
            self.secrets += [marked, base64.b64encode(marked.encode()).decode()]
            return marked.encode() if kind == "blob" else marked
        return {"timestamp": 1458700791.0, "boolean": True}.get(kind, 7)


def test_every_secret_carrier_is_covered() -> None:
    assert {o.name for o in OPERATIONS} >= {"AssumeRole", "AssumeRoleWithSAML", "AssumeRoleWithWebIdentity",
                                            "GetSessionToken", "GetFederationToken", "CreateAccessKey",
                                            "CreateLoginProfile", "ChangePassword", "UploadSigningCertificate",
                                            "EnableMFADevice", "CreateVirtualMFADevice"}


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda o: f"{o.service}:{o.name}")
def test_no_secret_reaches_the_audit_line(op: Any) -> None:
    ins, outs = _Filler(output=False), _Filler(output=True)
    model = op.model
    params = ins.value(model.input_shape, "", False) if model.input_shape is not None else {}
    result = outs.value(model.output_shape, "", False) if model.output_shape is not None else None
    text, line = _line(op.service, op.name, params, result)
    leaked = [s for s in ins.secrets + outs.secrets if s in text]
    assert not leaked, f"{op.name} logs {leaked}"
    if model.input_shape is not None and params:
        recorded = line["requestParameters"] or {}
        assert all(k[:1].islower() for k in recorded), recorded  # CloudTrail's keys, not the wire's
    if op.name.startswith("Create") and result is not None and line["responseElements"] is not None:
        assert all(k[:1].islower() for k in line["responseElements"]), line["responseElements"]
