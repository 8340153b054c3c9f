"""SAML 2.0 (AssumeRoleWithSAML, browser SSO): hardened parsing, metadata, signature and
decryption, assertion checks."""
