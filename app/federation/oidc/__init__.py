"""OIDC web identity tokens (AssumeRoleWithWebIdentity): strict JWS parsing, key sets built once
per fetch, signature against a key-derived algorithm allow-list, then the claims. The public
names live in `validate.py`; key discovery over HTTP and the service are elsewhere."""
