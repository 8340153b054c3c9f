"""Audit events of browser sign-in: every sign-in, role choice, sign-out and refusal, with its
precise reason (CloudTrail-shaped, app.audit; secrets never enter: credentials are reduced to
their access key id by the event's scrubber, and no assertion, token, code or cookie is passed).

Event names (source `sso.tessera`): `SignIn` (a verified identity became a sign-in record, or was
refused), `StartSignIn` (a login sent to an IdP, or refused), `ChooseRole` (refused before any
role session was tried: no sign-in, bad CSRF token, cross-site post), `SignOut`. A role choice
that reaches the STS path is recorded as `AssumeRoleWithSAML` / `AssumeRoleWithWebIdentity`
(source `sts.amazonaws.com`, `requestParameters.channel` = `browser`), as the API's calls are.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from app.audit.events import AuditEvent, saml_user_identity, web_identity_user
from app.core.ids import request_id as new_request_id
from app.services import saml_attributes as attrs
from app.services.sso import SignIn

SOURCE = "sso.tessera"


class AuditSink(Protocol):
    def write(self, event: AuditEvent) -> None: ...


def identity_of(signin: SignIn | None, account: str) -> dict[str, str]:
    if signin is None:
        return {"type": "Unknown"}
    ident = signin.identity
    if signin.kind == "iam" or ident is None:  # an IAM user signed in with its password
        return {"type": "IAMUser", "arn": signin.provider_arn, "accountId": account,
                "principalId": signin.user_id or "", "userName": signin.session_name}
    if signin.kind == "saml":
        name = signin.provider_arn.split(":saml-provider/", 1)[-1]
        return saml_user_identity(attrs.name_qualifier(ident.issuer, account, name), ident.subject)
    return web_identity_user(signin.provider_arn, ident.audience, ident.subject)


class SsoAudit:
    def __init__(self, sink: AuditSink, *, account: str) -> None:
        self._sink = sink
        self._account = account

    def record(self, name: str, *, now: float, source_ip: str | None, user_agent: str | None,
               signin: SignIn | None = None, error: Any = None, reason: str | None = None,
               params: Mapping[str, Any] | None = None, result: Mapping[str, Any] | None = None,
               source: str = SOURCE, identity: Mapping[str, str] | None = None,
               request_id: str | None = None) -> str:
        """Write one event; -> its request id (shown on error pages as a reference)."""
        rid = request_id or new_request_id()
        code = getattr(error, "code", None) if error is not None else None
        message = getattr(error, "message", None) if error is not None else None
        why = reason or (getattr(error, "reason", None) if error is not None else None)
        self._sink.write(AuditEvent(
            event_time=now, event_source=source, event_name=name, request_id=rid,
            outcome="error" if (error is not None or reason is not None) else "success",
            source_ip=source_ip, user_agent=user_agent[:512] if user_agent else None,
            user_identity=dict(identity) if identity is not None else identity_of(signin, self._account),
            error_code=code or ("AccessDenied" if reason else None), error_message=message, reason=why,
            request_parameters=dict(params) if params else None,
            response_elements=dict(result) if result else None))
        return rid
