"""What the SAML and OpenID Connect provider actions share: reading the provider an ARN names,
authorizing the action on it (its tags are the `aws:ResourceTag/*`), then requiring it exists
(AWS checks authorization first); and the refusal of trusted identity propagation
(ContextProvider, IdentityCenterInstanceArn), which this server does not offer."""
from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol, TypeVar

from app.core import arn as arns
from app.core.errors import AwsError, InvalidInput
from app.core.records import Call, Tag
from app.services.iam.base import ContextValue, IamServiceBase

_NO_PROPAGATION = ("trusted identity propagation (ContextProvider, IdentityCenterInstanceArn) is not "
                   "supported by this server")


class _Provider(Protocol):
    @property
    def arn(self) -> str: ...

    @property
    def tags(self) -> tuple[Tag, ...]: ...


P = TypeVar("P", bound=_Provider)


def refuse_propagation(*values: Any) -> None:
    """InvalidInput when any trusted identity propagation member is given."""
    if any(v not in (None, False) for v in values):
        raise InvalidInput(_NO_PROPAGATION)


def provider_ident(provider_arn: str, prefix: str, account: str, shape: str) -> str | None:
    """The name (SAML) or URL without scheme (OIDC) an IAM provider ARN of resource `prefix`
    (`saml-provider/`) names in `account`; None for another account's (NoSuchEntity after
    authorization). Another kind of ARN: InvalidInput naming the `shape` expected."""
    a = arns.parse(provider_arn)
    if a is None or a.service != "iam" or a.region or not a.resource.startswith(prefix):
        raise InvalidInput(f"`{provider_arn}` is not {shape}")
    ident = a.resource[len(prefix):]
    return ident if a.account == account and ident else None


class ProvidersServiceBase(IamServiceBase):
    async def _provider_target(self, call: Call, action: str, provider_arn: str,
                               load: Callable[[], Awaitable[P | None]] | None, missing: AwsError, *,
                               context: Mapping[str, ContextValue] | None = None) -> P:
        """Authorize `action` on the provider `load()` reads (None: the ARN names none here),
        then require that it exists (`missing`)."""
        provider = await load() if load is not None else None
        await self._require(call, action, provider.arn if provider else provider_arn, context=context,
                            resource_tags=provider.tags if provider else ())
        if provider is None:
            raise missing
        return provider
