"""ValidationError texts exactly as AWS words them (query-codec.md §3.4), and the fast path
agreeing with the explainer on every mutated request."""
from __future__ import annotations

from urllib.parse import urlencode

import pytest
from botocore.serialize import QuerySerializer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core.errors import ValidationError
from app.wire.codec import QueryCodec, parse_form
from app.wire.codec.scalars import Invalid
from tests.unit.wire.test_codec_roundtrip import OPS, strategy

CODEC = QueryCodec()
STS, IAM = "2011-06-15", "2010-05-08"
ARN = "arn:aws:iam::123456789012:role/demo"
ARN_PATTERN = r"[\u0009\u000A\u000D\u0020-\u007E\u0085\u00A0-\uD7FF\uE000-\uFFFD\u10000-\u10FFFF]+"


def _message(version: str, action: str, params: dict[str, str]) -> str:
    body = urlencode({"Action": action, "Version": version, **params}).encode()
    with pytest.raises(ValidationError) as info:
        CODEC.operation(version, action).decode(parse_form(body, ""))
    assert info.value.status == 400 and info.value.code == "ValidationError"
    return info.value.message


@pytest.mark.parametrize(
    ("version", "action", "params", "expected"),
    [
        (
            STS, "AssumeRole", {"RoleArn": ARN, "RoleSessionName": "bad name!"},
            "1 validation error detected: Value 'bad name!' at 'roleSessionName' failed to satisfy constraint: "
            r"Member must satisfy regular expression pattern: [\w+=,.@-]*",
        ),
        (
            STS, "AssumeRole", {"RoleArn": ARN, "RoleSessionName": "s1", "DurationSeconds": "600"},
            "1 validation error detected: Value '600' at 'durationSeconds' failed to satisfy constraint: "
            "Member must have value greater than or equal to 900",
        ),
        (
            STS, "AssumeRole", {"RoleArn": ARN, "RoleSessionName": "x" * 65},
            f"1 validation error detected: Value '{'x' * 65}' at 'roleSessionName' failed to satisfy constraint: "
            "Member must have length less than or equal to 64",
        ),
        (
            STS, "AssumeRoleWithWebIdentity", {"RoleArn": ARN, "RoleSessionName": "s1"},
            "1 validation error detected: Value null at 'webIdentityToken' failed to satisfy constraint: "
            "Member must not be null",
        ),
        (
            STS, "AssumeRoleWithSAML", {"RoleArn": "", "PrincipalArn": "", "SAMLAssertion": "x" * 8},
            "4 validation errors detected: "
            f"Value '' at 'roleArn' failed to satisfy constraint: Member must satisfy regular expression pattern: {ARN_PATTERN}; "
            "Value '' at 'roleArn' failed to satisfy constraint: Member must have length greater than or equal to 20; "
            f"Value '' at 'principalArn' failed to satisfy constraint: Member must satisfy regular expression pattern: {ARN_PATTERN}; "
            "Value '' at 'principalArn' failed to satisfy constraint: Member must have length greater than or equal to 20",
        ),
        (
            STS, "AssumeRole",
            {"RoleArn": ARN, "RoleSessionName": "s1", **{f"Tags.member.{i}.Key": f"k{i}" for i in range(1, 7)},
             **{f"Tags.member.{i}.Value": "v" for i in range(1, 6)}, "Tags.member.6.Value": "bad!"},
            "1 validation error detected: Value 'bad!' at 'tags.6.member.value' failed to satisfy constraint: "
            r"Member must satisfy regular expression pattern: [\p{L}\p{Z}\p{N}_.:/=+\-@]*",
        ),
        (
            IAM, "ListEntitiesForPolicy", {"PolicyArn": "arn:aws:iam::aws:policy/X", "EntityFilter": "Bogus"},
            "1 validation error detected: Value 'Bogus' at 'entityFilter' failed to satisfy constraint: "
            "Member must satisfy enum value set: [User, Role, Group, LocalManagedPolicy, AWSManagedPolicy]",
        ),
        (
            STS, "AssumeRole", {"RoleArn": ARN, "RoleSessionName": "s1", "DurationSeconds": "soon"},
            "1 validation error detected: Value 'soon' at 'durationSeconds' failed to satisfy constraint: "
            "Member must be an integer",
        ),
        (
            IAM, "UpdateAccountPasswordPolicy", {"RequireSymbols": "maybe"},
            "1 validation error detected: Value 'maybe' at 'requireSymbols' failed to satisfy constraint: "
            "Member must be a boolean (true or false)",
        ),
    ],
    ids=["pattern", "int-range", "max-length", "null", "saml-4-errors", "nested-tag", "enum", "junk-int", "junk-bool"],
)
def test_observed_aws_messages(version: str, action: str, params: dict[str, str], expected: str) -> None:
    assert _message(version, action, params) == expected


def test_sensitive_values_are_never_echoed() -> None:
    secret = "hunter2\x01"
    msg = _message(IAM, "CreateLoginProfile", {"UserName": "bob", "Password": secret})
    assert msg.startswith("1 validation error detected: Value at 'password' failed to satisfy constraint: ")
    assert secret not in msg and "hunter2" not in msg
    token = _message(STS, "AssumeRoleWithWebIdentity", {"RoleArn": ARN, "RoleSessionName": "s1", "WebIdentityToken": "abc"})
    assert "Value at 'webIdentityToken'" in token and "'abc'" not in token


def test_errors_follow_model_order_and_pattern_before_length() -> None:
    msg = _message(STS, "AssumeRole", {"DurationSeconds": "1", "RoleSessionName": "!", "RoleArn": "short"})
    assert msg.startswith("4 validation errors detected: ")
    parts = msg.split(": ", 1)[1].split("; ")
    assert [p.split("' at '")[1].split("'")[0] if "' at '" in p else p for p in parts] == [
        "roleArn", "roleSessionName", "roleSessionName", "durationSeconds",
    ]
    assert "length greater than or equal to 20" in parts[0]
    assert "regular expression" in parts[1] and "length greater than or equal to 2" in parts[2]


def test_long_values_are_truncated_in_messages() -> None:
    msg = _message(STS, "AssumeRole", {"RoleArn": ARN, "RoleSessionName": "!" * 5000})
    assert msg.startswith("2 validation errors detected: ") and len(msg) < 1000
    assert "'" + "!" * 256 + "...' at 'roleSessionName'" in msg


def test_list_size_message() -> None:
    keys = {f"TransitiveTagKeys.member.{i}": f"k{i}" for i in range(1, 52)}
    msg = _message(STS, "AssumeRole", {"RoleArn": ARN, "RoleSessionName": "s1", **keys})
    assert msg.startswith("1 validation error detected: Value '[k1, k2, ")
    assert msg.endswith("at 'transitiveTagKeys' failed to satisfy constraint: Member must have length less than or equal to 50")


_JUNK = ["", "x" * 300, "-1", "0", "abc", "ü", "99999999999", "true", "bad name!", "1" * 25]


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data())
def test_fast_path_and_explainer_agree(data: st.DataObject) -> None:
    op = data.draw(st.sampled_from([o for o in OPS["sts"] + OPS["iam"] if o.model.input_shape is not None]))
    params = data.draw(strategy(op.model.input_shape, output=False))
    body = QuerySerializer().serialize_to_request(params, op.model)["body"]
    pairs = [(k, str(v)) for k, v in body.items()]
    for _ in range(data.draw(st.integers(0, 3))):
        if not pairs:
            break
        i = data.draw(st.integers(0, len(pairs) - 1))
        if data.draw(st.booleans()):
            del pairs[i]
        else:
            pairs[i] = (pairs[i][0], data.draw(st.sampled_from(_JUNK)))
    try:
        op._decode(pairs)
        fast_ok = True
    except Invalid:
        fast_ok = False
    errors = op.explain(pairs)
    assert fast_ok == (errors == []), errors
    if not fast_ok:
        with pytest.raises(ValidationError) as info:
            op.decode(pairs)
        assert info.value.message.endswith(errors[-1])
