"""The SAML validation layer's public names, in one import:

    from app.federation.saml.validate import (SamlRejected, SamlSettings, SamlTrust,
                                               SamlTrustError, peek_issuer, validate_saml_response)
"""
from __future__ import annotations

from app.federation.identity import FederatedIdentity
from app.federation.saml.errors import SamlRejected
from app.federation.saml.response import peek_issuer, validate_saml_response
from app.federation.saml.trust import SamlSettings, SamlTrust, SamlTrustError

__all__ = ["FederatedIdentity", "SamlRejected", "SamlSettings", "SamlTrust", "SamlTrustError", "peek_issuer",
           "validate_saml_response"]
