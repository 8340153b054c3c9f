"""A small SAML 2.0 IdP for tests and `tessera dev`: committed keys and certificates
(`keys/`), IdP metadata (`metadata/`), a response builder that signs and encrypts
(`idp.DemoIdP`), and builders of hostile responses (`attacks`).

    from idp_fixtures.saml.idp import DemoIdP
    idp = DemoIdP()                                   # entity id DEMO_ENTITY_ID, key `idp`
    b64 = idp.response(recipient="http://127.0.0.1:8080/saml",
                       audience="http://127.0.0.1:8080/saml",
                       roles=[("arn:aws:iam::000000000000:role/Demo",
                               "arn:aws:iam::000000000000:saml-provider/DemoIdP")],
                       session_name="alice")          # base64 text for SAMLAssertion

The key material here is public test material: never trust it anywhere real.
"""
