"""Browser sign-in (SAML, OIDC, the role picker) and terminal sign-in (`tessera login`): the SSO
edge beside `app.wire`, calling the same services as the API."""
