"""What happens after every request, on every exit path: a metric and an audit event.

The event's requestParameters and responseElements are CloudTrail's: the action's shapers,
compiled from the model once (app.wire.codec.trail), rename and filter the decoded input and
the service result; an action the codec does not know (the SSO endpoints) is recorded as given.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from app.audit.events import AuditEvent, identity_of, saml_user_identity, web_identity_user
from app.audit.log import AuditLog, JsonLogger
from app.core.clock import Clock
from app.wire.codec.trail import Shaper
from app.wire.metrics import Metrics
from app.wire.query import Outcome

Trails = Callable[[str, str], "tuple[Shaper | None, Shaper | None] | None"]  # QueryCodec.trail

_SOURCES = {"sts": "sts.amazonaws.com", "iam": "iam.amazonaws.com"}
_FEDERATED = {"AssumeRoleWithSAML": "SAMLUser", "AssumeRoleWithWebIdentity": "WebIdentityUser"}


class RequestRecorder:
    def __init__(self, *, metrics: Metrics, audit: AuditLog, logger: JsonLogger, clock: Clock,
                 trails: Trails | None = None) -> None:
        self._metrics = metrics
        self._trails = trails
        self._audit = audit
        self.logger = logger
        self._clock = clock

    def record(self, outcome: Outcome) -> None:
        elapsed = time.perf_counter() - outcome.started
        error = outcome.error
        self._metrics.observe(outcome.action, "success" if error is None else error.code, elapsed)
        meta = outcome.meta
        params: Any = outcome.params
        result: Any = _elements(outcome.action, outcome.result)
        shapers = self._trails(outcome.service, outcome.action) if self._trails is not None else None
        if shapers is not None:
            try:
                params, result = _shaped(shapers, params, result)
            except Exception as exc:  # noqa: BLE001 - a result off its model: recorded as given (scrubbed)
                self.logger.warning("audit.unshaped", request_id=outcome.request_id, action=outcome.action,
                                    exc_type=type(exc).__name__)
        event = AuditEvent(
            event_time=meta.received_at if meta else self._clock.time(),
            event_source=_SOURCES.get(outcome.service, outcome.service),
            event_name=outcome.action,
            request_id=outcome.request_id,
            outcome="success" if error is None else "error",
            source_ip=meta.source_ip if meta else None,
            user_agent=meta.user_agent if meta else None,
            user_identity=_identity(outcome),
            error_code=error.code if error else None,
            error_message=error.message if error else None,
            reason=error.reason if error else None,
            aws_region=meta.region if meta else None,
            request_parameters=params or None,
            response_elements=result or None,
        )
        self._audit.write(event)


def _identity(outcome: Outcome) -> dict[str, str]:
    """The signed caller; for AssumeRoleWith* the SAMLUser / WebIdentityUser its verified
    assertion or token names (from the result, or from the error when it failed after the
    identity was verified)."""
    error, result = outcome.error, outcome.result
    if error is not None and error.user_identity is not None:
        return error.user_identity
    if isinstance(result, dict):
        if outcome.action == "AssumeRoleWithSAML" and "name_qualifier" in result:
            return saml_user_identity(result["name_qualifier"], result["subject"])
        if outcome.action == "AssumeRoleWithWebIdentity" and "provider" in result:
            return web_identity_user(result["provider"], result["audience"], result["subject_from_web_identity_token"])
    return identity_of(outcome.caller, federated_type=_FEDERATED.get(outcome.action))


def _shaped(shapers: tuple[Shaper | None, Shaper | None], params: Any, result: Any) -> tuple[Any, Any]:
    """CloudTrail's form of the decoded input and of the result (None where the action has none)."""
    shape_params, shape_result = shapers
    if params is not None:
        params = shape_params(params) if shape_params is not None else None
    if result is not None:
        result = shape_result(result) if shape_result is not None else None
    return params, result


_MINTS = frozenset({"GetSessionToken", "GetFederationToken"})


def _elements(action: str, result: Any) -> Any:
    """CloudTrail records response elements for actions that change or create something
    (and for the STS actions that mint credentials), not for reads."""
    if not isinstance(result, dict):
        return None
    if action.startswith(("Get", "List", "Simulate")) and action not in _MINTS:
        return None
    return result
