"""The AWS Query codec for STS and IAM, driven by botocore's bundled service models.

`QueryCodec()` loads the pinned models once and compiles every operation eagerly (a broken
model fails at boot): a closure-tree decoder from the input shape, a generated encoder from the
output shape, CloudTrail's shapers of both (trail.py), and the model's error table.
`operation(Version, Action)` dispatches; `trail(service, Action)` gives the audit its shapers.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.loaders import Loader
from botocore.model import OperationModel, ServiceModel

from app.core.errors import InvalidAction, MissingAction, ValidationError
from app.wire.codec import explainer, xmltext
from app.wire.codec.decoder import DecoderCompiler, Decoder
from app.wire.codec.encoder import POLICY_SHAPES, Encoder, compile_encoders
from app.wire.codec.omissions import OMITTED, rule_tree
from app.wire.codec.scalars import Invalid
from app.wire.codec.trail import Shaper, TrailCompiler

SERVICES = (("sts", "2011-06-15"), ("iam", "2010-05-08"))


class Operation:
    """One action: decodes its form pairs, encodes its result."""

    __slots__ = ("service", "name", "input_members", "model", "trail", "_decode", "_encode", "_input")

    def __init__(self, service: str, model: OperationModel, decode: Decoder | None, encode: Encoder,
                 trail: tuple[Shaper | None, Shaper | None] = (None, None)) -> None:
        self.service = service
        self.trail = trail  # CloudTrail's (requestParameters, responseElements) shapers
        self.name = model.name
        self.model = model
        self._input = model.input_shape
        self.input_members: tuple[str, ...] = tuple(self._input.members) if self._input is not None else ()
        self._decode = decode
        self._encode = encode

    def decode(self, pairs: list[tuple[str, str]]) -> dict[str, Any]:
        """{ModelMemberName: typed value} for the members present; ValidationError otherwise."""
        if self._decode is None:
            return {}
        try:
            decoded: dict[str, Any] = self._decode(pairs)  # the top structure: never MISSING
            return decoded
        except Invalid:
            pass
        errors = self.explain(pairs)
        if not errors:  # the fast path and the explainer disagree: still a clean 400
            raise ValidationError(f"invalid parameters for {self.name}")
        raise ValidationError(explainer.summary(errors))

    def explain(self, pairs: list[tuple[str, str]]) -> list[str]:
        """Every broken constraint as AWS words it (the cold path; also used by tests)."""
        if self._input is None:
            return []
        return explainer.explain_request(self._input, pairs)

    def encode(self, result: Mapping[str, Any] | None, request_id: str) -> bytes:
        return self._encode(result, request_id)

    def __repr__(self) -> str:
        return f"Operation({self.service}:{self.name})"


class QueryCodec:
    def __init__(self) -> None:
        loader = Loader()
        self._operations: dict[str, dict[str, Operation]] = {}
        self._namespaces: dict[str, str] = {}
        self._services: dict[str, str] = {}
        self.models: dict[str, ServiceModel] = {}
        self.error_codes: dict[str, tuple[str, int]] = {}
        self._trails: dict[tuple[str, str], tuple[Shaper | None, Shaper | None]] = {}
        for service, version in SERVICES:
            model = ServiceModel(loader.load_service_model(service, "service-2", version), service)
            self.models[service] = model
            namespace = model.metadata["xmlNamespace"]
            self._namespaces[service] = namespace
            self._services[version] = service
            compiler = DecoderCompiler()
            trail = TrailCompiler(POLICY_SHAPES.get(service, frozenset()))
            op_models = [model.operation_model(name) for name in model.operation_names]
            encoders = compile_encoders(service, op_models, namespace)
            table: dict[str, Operation] = {}
            for op_model in op_models:
                shape = op_model.input_shape
                decode = compiler.top(shape) if shape is not None else None
                rules = rule_tree(OMITTED.get(service, {}).get(op_model.name, {}))
                shapers = (trail.request(shape), trail.response(op_model.output_shape, rules))
                table[op_model.name] = Operation(service, op_model, decode, encoders[op_model.name], shapers)
                self._trails[service, op_model.name] = shapers
            self._operations[version] = table
            for shape in model.error_shapes:
                error = shape.metadata.get("error") or {}
                self.error_codes.setdefault(
                    shape.name, (error.get("code", shape.name), int(error.get("httpStatusCode", 400)))
                )

    def operation(self, version: str | None, action: str | None) -> Operation:
        if not action:
            raise MissingAction("the request must contain the parameter Action")
        table = self._operations.get(version or "")
        found = table.get(action) if table is not None else None
        if found is None:
            raise InvalidAction(f"Could not find operation {action} for version {version or ''}".rstrip())
        return found

    def trail(self, service: str, action: str) -> tuple[Shaper | None, Shaper | None] | None:
        """CloudTrail's (requestParameters, responseElements) shapers of an action of `sts` or
        `iam`; None for anything else (the SSO endpoints, Simulate)."""
        return self._trails.get((service, action))

    def operations(self, service: str) -> list[Operation]:
        """Every compiled operation of `sts` or `iam`, in model order."""
        for version, name in self._services.items():
            if name == service:
                return list(self._operations[version].values())
        raise KeyError(service)

    def error_body(self, service: str, code: str, message: str, *, sender: bool, request_id: str) -> bytes:
        namespace = self._namespaces.get(service, self._namespaces["sts"])
        esc = xmltext.esc
        return (
            f'<ErrorResponse xmlns="{namespace}"><Error><Type>{"Sender" if sender else "Receiver"}</Type>'
            f"<Code>{esc(code)}</Code><Message>{esc(message)}</Message></Error>"
            f"<RequestId>{esc(request_id)}</RequestId></ErrorResponse>"
        ).encode("utf-8")
