"""Committed demo/test keys of the OIDC fixtures (PKCS#8 PEM; `generate.py` rewrites them).
Public test material: never use them for anything real."""
