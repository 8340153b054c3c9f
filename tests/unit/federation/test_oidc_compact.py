"""app.federation.oidc.compact: the structural check of a compact JWS (two dots, base64url
characters, non-empty header and payload) accepts exactly what the regular expression
`[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]*` accepts, on generated strings; the signing
input is the token's first two segments as they were sent."""
from __future__ import annotations

import re
from unittest import mock

from hypothesis import example, given, settings
from hypothesis import strategies as st

from app.federation.oidc import compact
from app.federation.oidc.rejected import OidcRejected
from idp_fixtures.oidc.issuer import DemoIssuer

BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
STRUCTURE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


class _Decoding(Exception):
    """Raised in place of the first segment decoding: the structure was accepted."""


@settings(max_examples=1000, deadline=None)
@given(st.text(alphabet=BASE64URL[:4] + BASE64URL[-4:] + "..=+/ \n\t\u00e9\u0130\x00\u212a\U0001f600", max_size=10))
@example("a.b.")
@example(".b.c")
@example("a..c")
@example("a.b.c.d.e")
@example("a.b.c\n")
@example("\u212a.b.c")  # Kelvin sign: not ASCII, though it lowercases to `k`
def test_the_structure_is_the_regular_expression(token: str) -> None:
    with mock.patch.object(compact, "b64url_decode", side_effect=_Decoding):
        try:
            compact.parse(token)
        except _Decoding:
            accepted = True
        except OidcRejected as exc:
            accepted = False
            assert exc.reason == ("oidc_jwe" if token.count(".") == 4 else "oidc_malformed")
    assert accepted == (token.count(".") == 2 and STRUCTURE.fullmatch(token) is not None)


def test_the_signing_input_is_the_first_two_segments() -> None:
    token = DemoIssuer().token(alg="ES256")
    head, body, sig = token.split(".")
    parsed = compact.parse(token)
    assert parsed.signing_input == f"{head}.{body}".encode("ascii")
    assert parsed.signature == compact.b64url_decode(sig.encode("ascii")) and len(parsed.signature) == 64
    assert token not in repr(parsed) and head not in repr(parsed)
