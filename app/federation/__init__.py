"""Federation: SAML and OIDC validation, pure given trust anchors, keys and a clock.

Both kinds end in one `FederatedIdentity` (identity.py). Nothing here talks to Redis or the
network; `services/` fetches keys, records replay marks and evaluates trust.
"""
