"""The SAML validation layer (app.federation.saml) bound to provider records: one loaded
`SamlTrust` per provider record, kept while the record is unchanged.

Loading a trust parses certificates and private keys (milliseconds for an RSA key), so it is
never done per request. The cache key is the record's content: an UpdateSAMLProvider (new
metadata, a key added or removed, another encryption mode) yields a different record, hence a
fresh trust on the very next request; the old entry ages out (least recently used first).
"""
from __future__ import annotations

import logging
from collections import OrderedDict

from app.core.errors import InvalidIdentityToken
from app.core.records import SamlProviderRecord
from app.federation.identity import FederatedIdentity
from app.federation.saml.validate import (SamlRejected, SamlSettings, SamlTrust, SamlTrustError,
                                          validate_saml_response)

_log = logging.getLogger(__name__)
_TrustKey = tuple[str, str, str, tuple[str, ...], tuple[str, ...], bool]


class SamlVerifier:
    def __init__(self, settings: SamlSettings, *, max_trusts: int = 256) -> None:
        self._settings = settings
        self._max = max_trusts
        self._trusts: OrderedDict[_TrustKey, SamlTrust] = OrderedDict()

    def trust(self, record: SamlProviderRecord) -> SamlTrust:
        key: _TrustKey = (record.arn, record.uuid, record.entity_id, record.certificates_pem,
                          record.private_keys_pem, record.encryption_required)
        found = self._trusts.get(key)
        if found is not None:
            self._trusts.move_to_end(key)
            return found
        try:
            found = SamlTrust.load(record.entity_id, record.certificates_pem, record.private_keys_pem,
                                   record.encryption_required)
        except SamlTrustError as exc:  # IAM checked them on upload; a store restored from elsewhere?
            _log.warning("saml provider %s: stored keys do not load: %s", record.name, exc)
            raise InvalidIdentityToken("Invalid private key", reason="saml_provider_keys_unusable") from None
        self._trusts[key] = found
        if len(self._trusts) > self._max:
            self._trusts.popitem(last=False)
        return found

    def validate(self, record: SamlProviderRecord, saml_b64: str, now: float) -> FederatedIdentity:
        """The verified identity, or AWS's error with the precise reason (SamlRejected.reason)."""
        trust = self.trust(record)
        try:
            return validate_saml_response(saml_b64, trust, self._settings, now)
        except SamlRejected as exc:
            raise exc.to_aws_error() from None

    def redeemable_until(self, identity: FederatedIdentity) -> float:
        """How long the assertion's one-time-use mark must last: past the last instant
        validation could accept it again (one second beyond, against boundary rounding)."""
        until = identity.redeemable_until
        if until is None:
            until = min(identity.expires_at + self._settings.skew_seconds,
                        identity.issued_at + self._settings.max_age_seconds)
        return until + 1
