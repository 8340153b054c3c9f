"""The values a decision is made over: the caller, the request, and the decision itself."""
from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from app.core.records import quick_init
from app.policy.document import PolicyKind


class PrincipalType(enum.Enum):
    ROOT = "root"
    USER = "user"
    ROLE_SESSION = "role_session"
    FEDERATED_USER = "federated_user"
    SERVICE = "service"
    FEDERATED = "federated"
    ANONYMOUS = "anonymous"


IAM_TYPES = frozenset({PrincipalType.ROOT, PrincipalType.USER, PrincipalType.ROLE_SESSION,
                       PrincipalType.FEDERATED_USER})
SESSION_TYPES = frozenset({PrincipalType.ROLE_SESSION, PrincipalType.FEDERATED_USER})


@quick_init  # built on every request (app.core.records.quick_init)
@dataclass(frozen=True, slots=True)
class Principal:
    type: PrincipalType
    arn: str  # user / session / root / federated-user ARN, service name, IdP ARN or host, "anonymous"
    account: str | None
    role_arn: str | None = None  # ROLE_SESSION: the role's ARN (with its path)
    source_user_arn: str | None = None  # FEDERATED_USER: the IAM user that created it
    has_boundary: bool = False

    @property
    def root_arn(self) -> str | None:
        if self.account is None:
            return None
        partition = self.arn.split(":", 2)[1] if self.arn.startswith("arn:") else "aws"
        return f"arn:{partition}:iam::{self.account}:root"

    @property
    def effective_role_arn(self) -> str | None:
        """The role behind a role session: `role_arn`, else derived from the session ARN (no path)."""
        if self.type is not PrincipalType.ROLE_SESSION:
            return None
        if self.role_arn:
            return self.role_arn
        parts = self.arn.split(":", 5)
        if len(parts) == 6 and parts[5].startswith("assumed-role/"):
            role = parts[5].split("/")[1]
            return f"arn:{parts[1]}:iam::{parts[4]}:role/{role}"
        return None


@quick_init  # built on every request (app.core.records.quick_init)
@dataclass(frozen=True, slots=True)
class Request:
    principal: Principal
    action: str  # "iam:CreateRole"
    resource: str  # ARN or "*"
    context: Mapping[str, str | Sequence[str]] = field(default_factory=dict)
    resource_account: str | None = None  # default: the ARN's account field, else the principal's

    def owning_account(self) -> str | None:
        if self.resource_account:
            return self.resource_account
        parts = self.resource.split(":", 5)
        if len(parts) == 6 and parts[4]:
            return parts[4]
        return self.principal.account


@dataclass(frozen=True, slots=True)
class MatchedStatement:
    source: str
    kind: PolicyKind
    index: int  # 0-based position of the statement in its policy
    sid: str | None
    effect: str  # "Allow" | "Deny"


ALLOW = "Allow"
EXPLICIT_DENY = "ExplicitDeny"
IMPLICIT_DENY = "ImplicitDeny"


@quick_init  # built on every request (app.core.records.quick_init)
@dataclass(frozen=True, slots=True)
class Decision:
    effect: str  # "Allow" | "ExplicitDeny" | "ImplicitDeny"
    matched: tuple[MatchedStatement, ...] = ()
    missing_context_keys: tuple[str, ...] = ()  # keys read by candidate statements, absent from the context

    @property
    def allowed(self) -> bool:
        return self.effect == ALLOW
