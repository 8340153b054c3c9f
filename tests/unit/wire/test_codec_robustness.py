"""Hostile input only ever raises AwsError subclasses (a 4xx), never anything else."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from botocore.parsers import QueryParser
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core.errors import AwsError, InvalidAction, MissingAction, ValidationError
from app.core.records import Credentials, Role, Tag
from app.wire.codec import MAX_PAIRS, QueryCodec, parse_form

CODEC = QueryCodec()
STS, IAM = "2011-06-15", "2010-05-08"
ASSUME = CODEC.operation(STS, "AssumeRole")
BASE = b"Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fdemo&RoleSessionName=s1"


def test_parse_form_merges_query_then_body_and_keeps_blanks() -> None:
    pairs = parse_form(b"Tags=&Policy=%7B%22a%22%3A+1%7D&flag", "Action=X&Version=V")
    assert pairs == [("Action", "X"), ("Version", "V"), ("Tags", ""), ("Policy", '{"a": 1}'), ("flag", "")]


def test_non_utf8_body_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match="UTF-8"):
        parse_form(b"Action=AssumeRole&RoleSessionName=\xff\xfe", "")


def test_percent_encoded_invalid_utf8_becomes_replacement_char_and_fails_the_pattern() -> None:
    pairs = parse_form(BASE.replace(b"=s1", b"=%FF%FE"), "")
    assert ("RoleSessionName", "\ufffd\ufffd") in pairs
    with pytest.raises(ValidationError, match="roleSessionName"):
        ASSUME.decode(pairs)


@pytest.mark.parametrize("count", [MAX_PAIRS + 1, 5000])
def test_too_many_pairs(count: int) -> None:
    body = b"&".join(b"k%d=v" % i for i in range(count))
    with pytest.raises(ValidationError, match="more than 2000"):
        parse_form(body, "")
    with pytest.raises(ValidationError):
        parse_form(b"", "&".join(f"k{i}=v" for i in range(count)))
    assert len(parse_form(b"&".join(b"k%d=v" % i for i in range(MAX_PAIRS)), "")) == MAX_PAIRS


@pytest.mark.parametrize("index", ["\u00b2", "\u0663", "1a", "", "-1", " 1"])
def test_non_ascii_digit_list_index_is_a_validation_error(index: str) -> None:
    pairs = parse_form(BASE, "") + [(f"Tags.member.{index}.Key", "a"), (f"Tags.member.{index}.Value", "b")]
    with pytest.raises(ValidationError, match="invalid list index"):
        ASSUME.decode(pairs)


def test_huge_and_sparse_indices_are_ordered_numerically() -> None:
    huge = "9" * 5000  # int() of this would raise ValueError (int max str digits)
    pairs = parse_form(BASE, "") + [
        (f"TransitiveTagKeys.member.{huge}", "c"),
        ("TransitiveTagKeys.member.10", "b"),
        ("TransitiveTagKeys.member.2", "a"),
    ]
    assert ASSUME.decode(pairs)["TransitiveTagKeys"] == ["a", "b", "c"]


def test_bare_list_key_is_an_empty_list_and_unknown_keys_are_ignored() -> None:
    pairs = parse_form(BASE + b"&Tags=&X-Amz-Date=1&Unknown.member.1=z&RoleArn.x=1", "")
    assert ASSUME.decode(pairs) == {
        "RoleArn": "arn:aws:iam::123456789012:role/demo", "RoleSessionName": "s1", "Tags": [],
    }


@pytest.mark.parametrize("value", ["1.5", "0x10", "1_000", "\u0669\u0660\u0660", " 900", "9" * 30, ""])
def test_junk_integers(value: str) -> None:
    with pytest.raises(ValidationError, match="durationSeconds"):
        ASSUME.decode(parse_form(BASE, "") + [("DurationSeconds", value)])


@pytest.mark.parametrize("value", ["yes", "1", "", "tru"])
def test_junk_booleans(value: str) -> None:
    op = CODEC.operation(IAM, "UpdateAccountPasswordPolicy")
    with pytest.raises(ValidationError, match="requireSymbols"):
        op.decode([("RequireSymbols", value)])
    assert op.decode([("RequireSymbols", "TRUE")]) == {"RequireSymbols": True}


def test_unknown_and_missing_actions() -> None:
    with pytest.raises(MissingAction):
        CODEC.operation(STS, None)
    with pytest.raises(MissingAction):
        CODEC.operation(STS, "")
    with pytest.raises(InvalidAction) as info:
        CODEC.operation(STS, "CreateRole")
    assert info.value.message == "Could not find operation CreateRole for version 2011-06-15"
    with pytest.raises(InvalidAction, match="for version 2099-01-01"):
        CODEC.operation("2099-01-01", "AssumeRole")
    with pytest.raises(InvalidAction):
        CODEC.operation(None, "AssumeRole")
    assert CODEC.operation(IAM, "CreateRole").service == "iam"
    assert CODEC.operation(STS, "AssumeRole").input_members[:2] == ("RoleArn", "RoleSessionName")


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    action=st.sampled_from(["AssumeRole", "AssumeRoleWithSAML", "CreateRole", "PutAccountProperties", "ListRoles"]),
    body=st.binary(max_size=300) | st.lists(
        st.tuples(
            st.sampled_from(["RoleArn", "Tags.member.1.Key", "Tags.member.\u00b2.Value", "Tags", "DurationSeconds",
                             "MaxItems", "Properties.entry.1.key", "Properties.entry.1.value", "PolicyArns.member.1.arn",
                             "Tags.member", "Tags.member.1", "Properties.entry.x.key", "RoleName", "Marker"]),
            st.text(max_size=20),
        ),
        max_size=12,
    ).map(lambda kv: "&".join(f"{k}={v}" for k, v in kv).encode("utf-8", "surrogatepass")),
)
def test_fuzz_only_aws_errors_escape(action: str, body: bytes) -> None:
    version = STS if action.startswith("Assume") else IAM
    try:
        CODEC.operation(version, action).decode(parse_form(body, ""))
    except AwsError as exc:
        assert exc.status < 500 and exc.message


def test_error_body_is_what_botocore_expects() -> None:
    xml = CODEC.error_body("iam", "NoSuchEntity", "role `a<b` & co", sender=True, request_id="rid-1")
    assert xml.startswith(b'<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type>')
    parsed = QueryParser().parse({"body": xml, "headers": {}, "status_code": 404}, None)
    assert parsed["Error"] == {"Type": "Sender", "Code": "NoSuchEntity", "Message": "role `a<b` & co"}
    assert parsed["ResponseMetadata"]["RequestId"] == "rid-1"
    receiver = CODEC.error_body("sts", "InternalFailure", "x", sender=False, request_id="r")
    assert b"https://sts.amazonaws.com/doc/2011-06-15/" in receiver and b"<Type>Receiver</Type>" in receiver


def test_error_table_comes_from_the_model() -> None:
    assert CODEC.error_codes["NoSuchEntityException"] == ("NoSuchEntity", 404)
    assert CODEC.error_codes["IDPRejectedClaimException"] == ("IDPRejectedClaim", 403)
    assert CODEC.error_codes["LimitExceededException"] == ("LimitExceeded", 409)
    assert CODEC.error_codes["CredentialReportNotPresentException"] == ("ReportNotPresent", 410)


def _parse(op_name: str, version: str, xml: bytes) -> dict:
    op = CODEC.operation(version, op_name)
    return QueryParser().parse({"body": xml, "headers": {}, "status_code": 200}, op.model.output_shape)


def test_encode_records_timestamps_and_xml_escaping() -> None:
    creds = Credentials("ASIAEXAMPLE", "secret", "token", 1893459600.5)
    xml = ASSUME.encode(
        {"credentials": creds, "AssumedRoleUser": {"assumed_role_id": "AROA:s1", "Arn": "arn"},
         "source_identity": "a\r\nb\x00\ud800&<>", "packed_policy_size": 0},
        "rid",
    )
    assert b"<Expiration>2030-01-01T01:00:00Z</Expiration>" in xml and b"&#13;" in xml
    out = _parse("AssumeRole", STS, xml)
    assert out["Credentials"]["Expiration"] == datetime(2030, 1, 1, 1, tzinfo=timezone.utc)
    assert out["SourceIdentity"] == "a\r\nb\ufffd\ufffd&<>"
    assert out["PackedPolicySize"] == 0
    assert out["AssumedRoleUser"] == {"AssumedRoleId": "AROA:s1", "Arn": "arn"}
    for stamp in (datetime(2030, 1, 1, 1), datetime(2030, 1, 1, 1, tzinfo=timezone.utc), "2030-01-01T01:00:00.250Z"):
        xml = ASSUME.encode({"credentials": Credentials("A", "s", "t", stamp)}, "r")  # type: ignore[arg-type]
        assert b"<Expiration>2030-01-01T01:00:00Z</Expiration>" in xml


def test_policy_documents_are_url_encoded_with_percent_20() -> None:
    doc = '{"Version": "2012-10-17", "Statement": [{"Sid": "a+b %41 &<"}]}'
    role = Role("r", "AROAX", "/", "arn:aws:iam::1:role/r", 0.0, doc, tags=(Tag("k", "v"),))
    xml = CODEC.operation(IAM, "ListRoles").encode({"roles": [role], "is_truncated": False, "marker": None}, "r")
    assert b"%7B%22Version%22%3A%20%222012-10-17%22" in xml and b"+" not in xml.split(b"<AssumeRolePolicyDocument>")[1].split(b"<")[0]
    empty = CODEC.operation(IAM, "ListRoles").encode({"roles": [], "is_truncated": False}, "r")
    assert b"<Roles></Roles><IsTruncated>false</IsTruncated>" in empty
    assert _parse("ListRoles", IAM, empty)["Roles"] == []


def test_precomputed_unicode_tables_match_this_interpreter() -> None:
    import unicodedata

    from app.wire.codec import _unicode_ranges, patterns

    assert _unicode_ranges.UNIDATA_VERSION == unicodedata.unidata_version
    assert patterns.build_ranges() == _unicode_ranges.RANGES
    tag = patterns.compile_java(r"[\p{L}\p{Z}\p{N}_.:/=+\-@]*")
    assert tag.fullmatch("é ü 中 ٣ \u2003 a_b") and not tag.fullmatch("a!") and not tag.fullmatch("\U0001F600")
    assert patterns.compile_java(r"[\w+=,.@-]+").fullmatch("ü") is None  # Java's \w is ASCII
