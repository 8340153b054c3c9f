"""Builders of hostile (and a few good) tokens, by name: the corpus in tests/cases/oidc/ names a
builder and its arguments, so a new attack is one YAML entry (plus a builder when it needs one).

Every builder is `fn(issuer, now, **args) -> str`: `issuer` is the trusted DemoIssuer, `now` the
fixed time of the case (epoch seconds). In YAML arguments, the string `<omit>` stands for OMIT
(remove a claim or header). `raw` templates may use `$iss`, `$aud`, `$sub`, `$exp`, `$iat`,
`$now`, `$kid`, `$alg` and `$huge_int` (5,000 digits); `garbage` text may use `$valid` (a good
token from the issuer).
"""
from __future__ import annotations

import base64
import datetime
import functools
import json
import string
from collections.abc import Callable
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from idp_fixtures.oidc.issuer import OMIT, DemoIssuer
from idp_fixtures.oidc.jws import compact, json_bytes, sign
from idp_fixtures.oidc.material import b64url, load

Builder = Callable[..., str]
BUILDERS: dict[str, Builder] = {}

# EC group orders (for "psychic" signatures r = s = n, which equal zero mod n).
ORDERS = {
    256: 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    384: 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973,
    521: 0x01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFA51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409,
}


def builder(fn: Builder) -> Builder:
    BUILDERS[fn.__name__] = fn
    return fn


def _omits(value: Any) -> Any:
    if value == "<omit>":
        return OMIT
    if isinstance(value, dict):
        return {k: _omits(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_omits(v) for v in value]
    return value


def build(name: str, issuer: DemoIssuer, now: int, **args: Any) -> str:
    """The token of builder `name` with `args` (YAML `<omit>` → OMIT)."""
    return BUILDERS[name](issuer, now, **{k: _omits(v) for k, v in args.items()})


def _segments(token: str) -> list[str]:
    return token.split(".")


def _header(**members: Any) -> dict[str, Any]:
    return {k: v for k, v in members.items() if v is not OMIT}


def _payload(issuer: DemoIssuer, now: int, **claims: Any) -> dict[str, Any]:
    return issuer.claims(now=now, claims=claims)


@builder
def token(issuer: DemoIssuer, now: int, **args: Any) -> str:
    """A token minted by the issuer with `DemoIssuer.token` arguments (good unless told)."""
    return issuer.token(now=now, **args)


@builder
def raw(issuer: DemoIssuer, now: int, header: str = '{"alg":"$alg","kid":"$kid"}',
        payload: str = '{"iss":"$iss","sub":"$sub","aud":"$aud","exp":$exp,"iat":$iat}',
        key: str = "rsa-a", alg: str = "RS256", sub: str = "demo-user", encoding: str = "utf-8") -> str:
    """Header and claim set given as JSON text (duplicates, odd numbers, escapes survive), the
    claim set encoded in `encoding` (`utf-16`, `utf-8-sig`: not JWT), signed correctly by `key`:
    whatever is refused is refused for the text, not the signature."""
    signer = issuer.key(key)
    values = {"iss": issuer.url, "aud": issuer.client_id, "sub": sub, "exp": now + 600, "iat": now,
              "now": now, "kid": signer.kid or "", "alg": alg, "huge_int": "1" * 5000}
    head = string.Template(header).safe_substitute(values)
    body = string.Template(payload).safe_substitute(values).encode(encoding, "surrogatepass")
    return compact(head, body, key=signer.private_key, alg=alg)


@builder
def nested(issuer: DemoIssuer, now: int, depth: int = 50, where: str = "payload", bracket: str = "[",
           key: str = "rsa-a") -> str:
    """A validly signed token whose header or claim set nests `depth` arrays/objects deep."""
    signer = issuer.key(key)
    inner = "[" * depth + "]" * depth if bracket == "[" else '{"a":' * depth + "1" + "}" * depth
    header = _header(alg=signer.alg, kid=signer.kid)
    payload = _payload(issuer, now)
    if where == "header":
        head = json.dumps(header)[:-1] + f',"x":{inner}}}'
        return compact(head, payload, key=signer.private_key, alg=signer.alg)
    body = json.dumps(payload)[:-1] + f',"x":{inner}}}'
    return compact(header, body, key=signer.private_key, alg=signer.alg)


@builder
def alg_none(issuer: DemoIssuer, now: int, alg: str = "none", keep_signature: bool = False,
             kid: Any = "demo-rsa-a") -> str:
    """An unsigned token (`alg` in the given casing), optionally carrying a real RS256 signature
    of another header so the signature part is not empty."""
    header = _header(alg=alg, typ="JWT", kid=kid)
    payload = _payload(issuer, now)
    signature = b""
    if keep_signature:
        signature = sign("RS256", load("rsa-a").private_key, b"something else")
    return compact(header, payload, signature=signature)


def _public_secret(key_name: str, form: str) -> bytes:
    key = load(key_name)
    if form == "pem":
        return key.public_pem()
    if form == "pem_pkcs1":
        return key.public_pem("pkcs1")
    if form == "pem_no_newline":
        return key.public_pem().rstrip(b"\n")
    if form == "der":
        return key.public_der()
    if form == "jwk":
        return json_bytes(key.public_jwk(alg=False, use=False))
    if form == "jwk_with_alg":
        return json.dumps(key.public_jwk()).encode()
    if form == "x962":  # EC: the uncompressed point 04||x||y
        return key.public_key.public_bytes(serialization.Encoding.X962,
                                           serialization.PublicFormat.UncompressedPoint)
    if form == "n":  # RSA modulus bytes
        public = key.public_key
        assert isinstance(public, rsa.RSAPublicKey)
        n = public.public_numbers().n
        return n.to_bytes((n.bit_length() + 7) // 8, "big")
    raise ValueError(form)


@builder
def hmac_with_public_key(issuer: DemoIssuer, now: int, key: str = "rsa-a", form: str = "pem",
                         alg: str = "HS256", kid: Any = None) -> str:
    """Key confusion (CVE-2015-9235 family): HMAC keyed with the issuer's own public key in some
    encoding, under the kid of that public key, as a verifier that trusts `alg` would check it."""
    target = load(key)
    header = _header(alg=alg, typ="JWT", kid=target.kid if kid is None else kid)
    return compact(header, _payload(issuer, now), key=_public_secret(key, form), alg=alg)


@functools.cache
def _self_signed(key_name: str) -> str:
    key = load(key_name)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "oidc.demo.tessera.test")])
    start = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key)
            .serial_number(1).not_valid_before(start).not_valid_after(start.replace(year=2125))
            .sign(key.private_key, hashes.SHA256()))
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode("ascii")


@builder
def embedded_key(issuer: DemoIssuer, now: int, member: str = "jwk", kid: str = "attacker",
                 key: str = "attacker-rsa", alg: str | None = None) -> str:
    """Signed by an attacker's key that the header carries or points to (`jwk`, `jku`, `x5u`,
    `x5c`); `kid`: `attacker` (the attacker key's kid), `real` (a trusted kid), `none`."""
    attacker = load(key)
    alg = alg or attacker.alg
    header: dict[str, Any] = {"alg": alg, "typ": "JWT"}
    if kid == "attacker":
        header["kid"] = attacker.kid
    elif kid == "real":
        header["kid"] = issuer.key(None, alg).kid
    if member == "jwk":
        header["jwk"] = attacker.public_jwk()
    elif member in ("jku", "x5u"):
        header[member] = "https://attacker.example/keys.json"
    elif member == "x5c":
        header["x5c"] = [_self_signed(key)]
    else:
        raise ValueError(member)
    return compact(header, _payload(issuer, now), key=attacker.private_key, alg=alg)


@builder
def ecdsa_signature(issuer: DemoIssuer, now: int, form: str = "zero", key: str = "ec-p256") -> str:
    """ES* tokens with a forged or mis-encoded signature: `zero` (r = s = 0, CVE-2022-21449),
    `order` (r = s = n), `r_zero`, `s_zero`, `der` (a valid signature in DER, not r||s),
    `short` (one byte missing), `long` (one byte added), `high_s_swap` (n - s: still valid ECDSA
    math; accepted, as it verifies)."""
    signer = issuer.key(key)
    header = _header(alg=signer.alg, typ="JWT", kid=signer.kid)
    payload = _payload(issuer, now)
    private = signer.private_key
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    bits = private.curve.key_size
    size = (bits + 7) // 8
    head, body = b64url(json_bytes(header)), b64url(json_bytes(payload))
    data = f"{head}.{body}".encode("ascii")
    h = {256: hashes.SHA256(), 384: hashes.SHA384(), 521: hashes.SHA512()}[bits]
    der = private.sign(data, ec.ECDSA(h))
    r, s = decode_dss_signature(der)
    n = ORDERS[bits]
    forms = {
        "zero": (0, 0), "order": (n, n), "r_zero": (0, s), "s_zero": (r, 0), "high_s_swap": (r, n - s),
    }
    if form in forms:
        fr, fs = forms[form]
        sig = fr.to_bytes(size, "big") + fs.to_bytes(size, "big")
    elif form == "der":
        sig = der
    elif form == "short":
        sig = (r.to_bytes(size, "big") + s.to_bytes(size, "big"))[:-1]
    elif form == "long":
        sig = r.to_bytes(size, "big") + s.to_bytes(size, "big") + b"\0"
    else:
        raise ValueError(form)
    return f"{head}.{body}.{b64url(sig)}"


@builder
def signature(issuer: DemoIssuer, now: int, op: str = "strip", key: str | None = None, alg: str | None = None) -> str:
    """A good token whose signature part is damaged: `strip` (empty), `drop_segment` (two parts),
    `truncate` (last 3 bytes gone), `flip` (one bit), `other_token` (the signature of another
    good token), `noncanonical` (the last base64url character changed in its unused bits only:
    the same bytes, another string)."""
    good = issuer.token(now=now, key=key, alg=alg)
    head, body, sig = _segments(good)
    if op == "strip":
        return f"{head}.{body}."
    if op == "drop_segment":
        return f"{head}.{body}"
    if op == "truncate":
        return f"{head}.{body}.{b64url(_b64d(sig)[:-3])}"
    if op == "flip":
        raw_sig = bytearray(_b64d(sig))
        raw_sig[len(raw_sig) // 2] ^= 0x01
        return f"{head}.{body}.{b64url(bytes(raw_sig))}"
    if op == "other_token":
        other = issuer.token(now=now, key=key, alg=alg, sub="someone-else")
        return f"{head}.{body}.{_segments(other)[2]}"
    if op == "noncanonical":
        return f"{head}.{body}.{_noncanonical(sig)}"
    raise ValueError(op)


_ALPHABET = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"


def _noncanonical(segment: str) -> str:
    """`segment` with its last character's unused low bits set: decodes to the same bytes."""
    unused = {2: 0b1111, 3: 0b11}.get(len(segment) % 4)
    if unused is None:
        raise ValueError("segment has no unused bits")
    last = _ALPHABET.index(segment[-1])
    return segment[:-1] + _ALPHABET[last | unused]


def _b64d(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


@builder
def tamper(issuer: DemoIssuer, now: int, claims: dict[str, Any] | None = None,
           headers: dict[str, Any] | None = None, key: str | None = None) -> str:
    """A good token whose claim set or header is changed after signing (signature kept)."""
    good = issuer.token(now=now, key=key)
    head, body, sig = _segments(good)
    if claims:
        payload = json.loads(_b64d(body))
        payload.update(claims)
        body = b64url(json_bytes(payload))
    if headers:
        header = json.loads(_b64d(head))
        header.update(headers)
        head = b64url(json_bytes(header))
    return f"{head}.{body}.{sig}"


@builder
def oversized(issuer: DemoIssuer, now: int, size: int = 20001, key: str = "rsa-a") -> str:
    """A validly signed token padded with a filler claim to (about) `size` characters."""
    base = issuer.token(now=now, key=key)
    filler = max(0, (size - len(base)) * 3 // 4 + 8)
    return issuer.token(now=now, key=key, claims={"filler": "x" * filler})


@builder
def jwe(issuer: DemoIssuer, now: int, kind: str = "compact") -> str:
    """Encrypted-token shapes: `compact` (five parts, RFC 7516 §7.1) or `enc_header` (three parts
    whose header says `enc`: a JWE header on a JWS body)."""
    header = {"alg": "RSA-OAEP", "enc": "A256GCM", "kid": "demo-rsa-a"}
    if kind == "compact":
        parts = [b64url(json_bytes(header)), b64url(b"\x01" * 256), b64url(b"\x02" * 12),
                 b64url(json_bytes(_payload(issuer, now))), b64url(b"\x03" * 16)]
        return ".".join(parts)
    signer = issuer.key("rsa-a")
    return compact({"alg": "RS256", "enc": "A256GCM", "kid": signer.kid}, _payload(issuer, now),
                   key=signer.private_key)


@builder
def nested_jwt(issuer: DemoIssuer, now: int, cty: str = "JWT") -> str:
    """A good outer signature over a payload that is itself a JWT (`cty` says so)."""
    inner = issuer.token(now=now).encode("ascii")
    signer = issuer.key("rsa-a")
    return compact(_header(alg="RS256", kid=signer.kid, cty=cty), inner, key=signer.private_key)


@builder
def reencode(issuer: DemoIssuer, now: int, op: str = "padded") -> str:
    """A good token spelled another way: `padded` (base64 `=` padding on the signature),
    `standard_alphabet` (`+`/`/` instead of `-`/`_`), `non_ascii` (a non-ASCII character
    appended), `whitespace` (a space inside the payload part)."""
    for attempt in range(64):  # a token whose parts have the characters the operation needs
        good = issuer.token(now=now, sub=f"demo-user-{attempt}")
        head, body, sig = _segments(good)
        if op == "padded" and len(sig) % 4:
            return f"{head}.{body}.{sig}{'=' * (-len(sig) % 4)}"
        if op == "standard_alphabet" and ("-" in good or "_" in good):
            return good.replace("-", "+").replace("_", "/")
        if op == "non_ascii":
            return good + "\u00e9"
        if op == "whitespace":
            return f"{head}.{body[:10]} {body[10:]}.{sig}"
    raise ValueError(op)


@builder
def garbage(issuer: DemoIssuer, now: int, text: str = "") -> str:
    """Literal text, with `$valid` replaced by a good token (e.g. `"$valid\\n"`)."""
    return string.Template(text).safe_substitute(valid=issuer.token(now=now))


@builder
def other_issuer(issuer: DemoIssuer, now: int, url: str = "https://evil.example", key: str = "attacker-rsa",
                 kid: Any = None) -> str:
    """A token minted by another issuer at `url` with `key` (an attacker key, or the trusted key:
    an issuer that shares keys must still be told apart by `iss`)."""
    other = DemoIssuer(url, [load(key)], client_id=issuer.client_id)
    return other.token(now=now, kid=kid)
