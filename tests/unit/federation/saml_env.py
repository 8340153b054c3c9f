"""Shared setup for the SAML validation tests: one clock, this service's settings, the demo
IdP, and loaded trusts (keys parsed once per session)."""
from __future__ import annotations

import functools

from app.federation.saml.validate import SamlSettings, SamlTrust
from idp_fixtures.saml import material
from idp_fixtures.saml.idp import DemoIdP

NOW = 1_800_000_000.0  # a fixed clock: 2027-01-15T08:00:00Z
URL = "https://tessera.test/saml"
SETTINGS = SamlSettings(audience=URL, recipient=URL)
ENTITY = material.DEMO_ENTITY_ID
ROLE = "arn:aws:iam::000000000000:role/Demo"
PROVIDER = "arn:aws:iam::000000000000:saml-provider/DemoIdP"
IDP = DemoIdP()


@functools.cache
def trust(*cert_names: str, keys: tuple[str, ...] = ("sp",), required: bool = False) -> SamlTrust:
    names = cert_names or ("idp",)
    return SamlTrust.load(ENTITY, [material.cert_pem(n) for n in names], [material.key_pem(k) for k in keys], required)


def defaults(**overrides: object) -> dict[str, object]:
    """Keywords for DemoIdP.response/response_xml making a response valid at NOW."""
    base: dict[str, object] = {"recipient": URL, "audience": URL, "now": NOW, "roles": [(ROLE, PROVIDER)],
                               "session_name": "alice"}
    base.update(overrides)
    return base
