"""Generic dispatch from a decoded Query operation to a service method.

Every service method is named `xform_name(Action)` and takes `call` plus keyword arguments
named `xform_name(member)`; the adapter for an operation is built once, on first use, from
the method's signature, so request members a method does not take (new model members such as
`MinimumSessionTokenSize`) are ignored, as AWS ignores unknown parameters.
"""
from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from botocore import xform_name

from app.core.errors import InvalidAction
from app.core.records import Call

Method = Callable[..., Awaitable[Any]]


class _Adapter:
    __slots__ = ("method", "names")

    def __init__(self, method: Method, names: dict[str, str]) -> None:
        self.method = method
        self.names = names  # model member name -> keyword argument name

    async def __call__(self, call: Call, params: Mapping[str, Any]) -> Any:
        names = self.names
        kwargs = {names[k]: v for k, v in params.items() if k in names}
        return await self.method(call, **kwargs)


class _Unsupported:
    __slots__ = ("action",)

    def __init__(self, action: str) -> None:
        self.action = action

    async def __call__(self, call: Call, params: Mapping[str, Any]) -> Any:
        raise InvalidAction(f"the operation `{self.action}` is not supported by this Tessera server")


class Dispatcher:
    def __init__(self, services: Mapping[str, object]) -> None:
        self._services = dict(services)
        self._adapters: dict[tuple[str, str], _Adapter | _Unsupported] = {}

    def adapter(self, service: str, action: str, input_members: tuple[str, ...]) -> _Adapter | _Unsupported:
        key = (service, action)
        found = self._adapters.get(key)
        if found is None:
            found = self._build(service, action, input_members)
            self._adapters[key] = found
        return found

    def supports(self, service: str, action: str) -> bool:
        svc = self._services.get(service)
        return svc is not None and callable(getattr(svc, xform_name(action), None))

    def _build(self, service: str, action: str, input_members: tuple[str, ...]) -> _Adapter | _Unsupported:
        svc = self._services.get(service)
        method = getattr(svc, xform_name(action), None) if svc is not None else None
        if method is None or not callable(method):
            return _Unsupported(action)
        params = inspect.signature(method).parameters
        takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        names = {}
        for member in input_members:
            name = xform_name(member)
            if takes_any or name in params:
                names[member] = name
        return _Adapter(method, names)
