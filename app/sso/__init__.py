"""Browser sign-in (SAML, OIDC, the role picker) and terminal sign-in (`tessera login`): the SSO
edge beside `app.wire`, calling the same services as the API.

Between the picker and `tessera login` (issue 10, item 4):

- Login URLs (`/sso/saml/{provider}/login`, `/sso/oidc/{provider}/login`, `/sso/start`) accept
  `cli_port` + `cli_challenge` (or `cli_device` + `cli_challenge` for the device-code fallback);
  `app.sso.handoff.cli_binding(query)` checks them (ValueError: a message for the page), and the
  sign-in record keeps `binding.to_record()` (`CliBinding.from_record(record)` reads it back).
- After the role choice, when the sign-in has a binding, the picker calls
  `code = await app.sso.handoff.issue_handoff(sso_state, credentials, binding.challenge, signin,
  handle=handle, role_arn=role_arn)` (`signin`: app.services.sso.SignIn, `handle`: the one its
  record is found by) and redirects the browser to `binding.callback_url(code)`.
- `POST /sso/cli/token` (app.sso.cli_routes) redeems the code with the CLI's verifier and hands
  out a refresh grant bound to the sign-in; `POST /sso/cli/refresh` exchanges it for fresh
  credentials of the same role through the picker's own minting path (app.services.sso.SsoService:
  `signin(handle)` then `assume(call, signin, role_arn)`), so a sign-out or an expired sign-in ends it.
"""
