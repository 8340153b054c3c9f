"""The fast paths taken for speed (tests/bench/bench_saml.py) decide exactly what the plain
versions they replaced decided: strict base64 without a copy when nothing needs removing,
cached xs:dateTime conversion, children grouped by tag in one pass, the certificate's bare
public key for xmlsec, SignedInfo children taken as they are."""
from __future__ import annotations

import binascii
import datetime
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from app.federation.saml import claims, encoding, instants, signature
from app.federation.saml.algorithms import XSI
from app.federation.saml.errors import SamlRejected
from app.federation.saml.validate import validate_saml_response
from idp_fixtures.saml.idp import DemoIdP
from tests.unit.federation.saml_env import NOW, SETTINGS, defaults, trust

PROPERTY = settings(max_examples=400, deadline=None, database=None)


def _reference_b64(data: str | bytes) -> bytes | None:
    """strict_b64decode as it was before its fast path."""
    raw = (data.encode("ascii", "replace") if isinstance(data, str) else data).translate(None, b" \t\r\n")
    try:
        return binascii.a2b_base64(raw, strict_mode=True) if raw and not len(raw) % 4 else None
    except binascii.Error:
        return None


_B64_TEXT = st.text(alphabet=st.sampled_from("QUJDRWxh+/=0 \t\r\n-_.é\u00a0\x00"), max_size=24)


@PROPERTY
@given(st.one_of(_B64_TEXT, _B64_TEXT.map(lambda s: s.encode("utf-8")), st.binary(max_size=24)))
def test_strict_base64_decides_as_before(data: str | bytes) -> None:
    assert encoding.strict_b64decode(data) == _reference_b64(data)


def _reference_instant(text: str | None) -> float | None:
    """instants.instant as it was before its cache (None where it refused)."""
    pattern = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,12})?(?:Z|[+-]\d\d:\d\d)?"
    if text is None or re.fullmatch(pattern, text, re.ASCII) is None:
        return None
    try:
        value = datetime.datetime.fromisoformat(text)
        return (value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)).timestamp()
    except (ValueError, OverflowError):
        return None


def _outcome(text: str | None) -> float | None:
    try:
        return instants.instant(text, "x")
    except SamlRejected as e:
        assert e.reason == "saml_malformed"
        return None


_DIGITS = st.text(alphabet="0123456789", min_size=1, max_size=14)
_INSTANTS = st.builds(
    lambda y, mo, d, h, mi, s, frac, zone: f"{y}-{mo}-{d}T{h}:{mi}:{s}{frac}{zone}",
    st.sampled_from(["2027", "0001", "9999", "027", "20271"]), st.sampled_from(["01", "12", "13", "00", "1"]),
    st.sampled_from(["15", "31", "29", "32"]), st.sampled_from(["08", "23", "24"]), st.sampled_from(["00", "59", "60"]),
    st.sampled_from(["00", "59", "60"]), st.one_of(st.just(""), _DIGITS.map(lambda d: "." + d)),
    st.sampled_from(["", "Z", "+05:30", "-23:59", "+24:00", "z", " Z", "+0530"]))


@PROPERTY
@given(st.one_of(_INSTANTS, st.text(max_size=45)))
def test_instants_decide_as_before_and_twice_alike(text: str) -> None:
    expected = _reference_instant(text)
    assert _outcome(text) == expected
    assert _outcome(text) == expected  # the second answer comes from the cache


def test_no_text_longer_than_the_cache_bound_is_an_instant() -> None:
    longest = "2027-01-15T08:00:00." + "1" * 12 + "+05:30"
    assert len(longest) == instants._LONGEST and _reference_instant(longest) is not None
    assert _outcome(longest + "0") is None and _reference_instant(longest + "0") is None
    assert _outcome(None) is None


def test_children_by_tag_as_the_tag_filtered_iterator() -> None:
    root = etree.fromstring(b"<r xmlns:a='urn:a'><a:x>1</a:x><!--c--><x/><a:x>2</a:x><?p?><a:y/>t<a:x/></r>")
    grouped = claims.by_tag(root)
    for tag in ("{urn:a}x", "x", "{urn:a}y", "{urn:a}z"):
        expected = list(root.iterchildren(tag))
        assert claims.children(root, tag) == expected
        assert grouped.get(tag, []) == expected
    assert sum(len(v) for v in grouped.values()) == len(root)


@pytest.mark.parametrize("key_name,cert_names", [("idp-ec", ("idp-ec",)), ("idp-ec", ("idp", "idp-ec")),
                                                 ("idp", ("idp-ec", "idp"))])
def test_signatures_verify_with_the_certificates_public_key(key_name: str, cert_names: tuple[str, ...]) -> None:
    method = signature._C.TransformEcdsaSha256 if key_name == "idp-ec" else signature._C.TransformRsaSha256
    b64 = DemoIdP(key_name=key_name).response(**defaults(), signature_method=method)
    assert validate_saml_response(b64, trust(*cert_names), SETTINGS, NOW).subject == "alice@example.test"


def test_a_key_of_the_wrong_kind_does_not_verify() -> None:
    b64 = DemoIdP(key_name="idp").response(**defaults())
    with pytest.raises(SamlRejected) as caught:
        validate_saml_response(b64, trust("idp-ec"), SETTINGS, NOW)
    assert caught.value.reason == "saml_signature_invalid"


@pytest.mark.parametrize("where", ["ds:Signature", "ds:SignedInfo", "ds:Reference", "ds:Transforms",
                                   "ds:SignatureMethod", "ds:DigestMethod"])
def test_signed_info_refuses_a_comment_on_its_own(where: str) -> None:
    """shape.py refuses comments first; check_signed_info no longer skips them either."""
    tree = etree.fromstring(DemoIdP().response_xml(**defaults()))  # parsed, as validation sees it
    assertion = tree.find("{urn:oasis:names:tc:SAML:2.0:assertion}Assertion")
    sig = assertion.find(f"{{{signature.DS}}}Signature")
    node = sig if where == "ds:Signature" else sig.find(f".//{{{signature.DS}}}{where[3:]}")
    assert signature.check_signed_info(sig, assertion) == "rsa"
    node.append(etree.Comment("x"))
    with pytest.raises(SamlRejected):
        signature.check_signed_info(sig, assertion)


def _reference_attributes(assertion: etree._Element) -> dict[str, tuple[str, ...]]:
    """claims._attributes as it was before its fast paths."""
    out: dict[str, list[str]] = {}
    for statement in assertion.iterchildren(claims._ATTRIBUTE_STATEMENT):
        for attribute in statement.iterchildren(claims._ATTRIBUTE):
            values = out.setdefault(str(attribute.get("Name")), [])
            for value in attribute.iterchildren(claims._ATTRIBUTE_VALUE):
                if value.get(claims._NIL) not in ("true", "1"):
                    values.append(claims.text(value))
    return {k: tuple(v) for k, v in out.items()}


_NILS = ['', ' xsi:nil="true"', ' xsi:nil="1"', ' xsi:nil="false"', ' xsi:nil="0"', ' xsi:nil=" true"',
         ' other:nil="true"', ' nil="true"']


@PROPERTY
@given(st.lists(st.lists(st.lists(st.tuples(st.sampled_from(_NILS), st.sampled_from(["v", " w ", "", "<x>in</x>t"]),
                                            st.booleans()), max_size=4), max_size=3), max_size=3))
def test_attributes_read_as_before(statements: list[list[list[tuple[str, str, bool]]]]) -> None:
    body = "".join(
        "<saml:AttributeStatement>" + "".join(
            f'<saml:Attribute Name="n{j % 2}"><other:Extra/>' + "".join(
                f"<saml:{'AttributeValue' if plain else 'Other'}{nil}>{value}</saml:{'AttributeValue' if plain else 'Other'}>"
                for nil, value, plain in values) + "</saml:Attribute><saml:NotAnAttribute/>"
            for j, values in enumerate(attributes)) + "</saml:AttributeStatement>"
        for attributes in statements)
    assertion = etree.fromstring(
        f'<saml:Assertion xmlns:saml="{claims.SAML}" xmlns:xsi="{XSI}" xmlns:other="urn:other">{body}'
        "</saml:Assertion>")
    assert claims._attributes(claims.by_tag(assertion).get(claims._ATTRIBUTE_STATEMENT, [])) == \
        _reference_attributes(assertion)
