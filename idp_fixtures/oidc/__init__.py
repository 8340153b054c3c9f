"""The OIDC side of the fixtures: a demo OpenID issuer (keys, JWKS and discovery documents,
token minting), builders of hostile tokens for the corpus, and a loopback HTTP issuer.
See README.md in this folder."""
