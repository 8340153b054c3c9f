"""`tessera policy check|simulate`: the policy engine on local files.

    tessera policy check FILE [--kind identity|resource|trust|boundary|session|scp|rcp]
        ok: FILE (identity policy, 2 statements, 143 chars)          exit 0
        FILE:LINE:COL: <MalformedPolicyDocument message>              exit 1
    tessera policy simulate --identity F... [--resource-policy F...] [--boundary F] [--session F...]
                            [--scp F...] [--rcp F...] --principal ARN [--principal-type T]
                            --action A [--resource R] [--context KEY=VALUE ...]
        decision: Allow | ExplicitDeny | ImplicitDeny, then the deciding statements
        (`FILE:LINE Sid Effect`) and the missing context keys; exit 0 Allow, 1 deny.

"chars" counts characters without whitespace, as IAM's size quotas do. Positions are 1-based;
a JSON syntax error is reported where the JSON parser stopped, a validation error at the
statement / element / value its message names. Unreadable files, bad arguments and invalid
policies given to `simulate` exit 2.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

from app.core.errors import AwsError, LimitExceeded, MalformedPolicyDocument
from app.policy import CompiledPolicy, Decision, PolicyKind, Request, authorize, compile_policy, policy_size
from app.policy.positions import locate_error, statement_spans
from app.policy.simulation import principal_from  # the §12 principal rules, shared
from app.services.iam.simulation import is_trust

MAX_FILE_BYTES = 1024 * 1024


class PolicyFileError(Exception):
    """A policy file that does not parse or validate, with the 1-based position of the fault."""

    def __init__(self, path: str, line: int, column: int, message: str) -> None:
        super().__init__(message)
        self.path, self.line, self.column, self.message = path, line, column, message

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.message}"


class UsageError(Exception):
    pass


def read_text(path: str) -> str:
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise UsageError(f"{path}: cannot read: {e.strerror or e}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise UsageError(f"{path}: larger than {MAX_FILE_BYTES} bytes")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise PolicyFileError(path, 1, 1, "Syntax errors in policy. (not UTF-8 text)") from None


def load_policy(path: str, kind: PolicyKind) -> tuple[str, CompiledPolicy]:
    """Read, parse and validate one file as a `kind` policy; errors carry a line and column."""
    text = read_text(path)
    try:
        json.loads(text)
    except json.JSONDecodeError as e:
        raise PolicyFileError(path, e.lineno, e.colno, f"Syntax errors in policy. ({e.msg})") from None
    except RecursionError:
        raise PolicyFileError(path, 1, 1, "Syntax errors in policy. (nested too deeply)") from None
    try:
        return text, compile_policy(text, kind, path)
    except LimitExceeded as e:
        raise PolicyFileError(path, 1, 1, e.message) from None
    except MalformedPolicyDocument as e:
        raise PolicyFileError(path, *locate_error(text, e.message), e.message) from None


def check(path: str, kind: PolicyKind, out: TextIO) -> int:
    try:
        text, compiled = load_policy(path, kind)
    except PolicyFileError as e:
        print(e, file=out)
        return 1
    n = len(compiled.statements)
    print(f"ok: {path} ({kind.value} policy, {n} statement{'s' if n != 1 else ''}, {policy_size(text)} chars)",
          file=out)
    return 0


def parse_context(pairs: Sequence[str]) -> dict[str, str | list[str]]:
    """KEY=VALUE pairs; a key given more than once becomes multivalued."""
    values: dict[str, list[str]] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--context `{pair}`: expected KEY=VALUE")
        values.setdefault(key, []).append(value)
    return {k: v[0] if len(v) == 1 else v for k, v in values.items()}


@dataclass
class _Loaded:
    texts: dict[str, str]

    def many(self, paths: Sequence[str] | None, kind: PolicyKind) -> list[CompiledPolicy] | None:
        if paths is None:
            return None
        out = []
        for path in paths:
            text, compiled = load_policy(path, kind)
            self.texts[path] = text
            out.append(compiled)
        return out


def simulate(args: argparse.Namespace, out: TextIO) -> int:
    trust = is_trust(args.action, args.resource)
    files = _Loaded({})
    identity = files.many(args.identity, PolicyKind.IDENTITY) or []
    resource = files.many(args.resource_policy, PolicyKind.TRUST if trust else PolicyKind.RESOURCE) or []
    boundary = files.many([args.boundary], PolicyKind.BOUNDARY)[0] if args.boundary else None  # type: ignore[index]
    session = files.many(args.session, PolicyKind.SESSION)
    scp = files.many(getattr(args, "scp", None), PolicyKind.SCP)
    rcp = files.many(getattr(args, "rcp", None), PolicyKind.RCP)
    try:
        principal = principal_from({"principal": args.principal, "principal_type": args.principal_type},
                                   boundary is not None)
    except AwsError as e:
        raise UsageError(f"--principal: {e.message.removeprefix('request.principal ')}"
                         .replace("principal_type", "--principal-type")) from None
    request = Request(principal, args.action, args.resource, parse_context(args.context))
    decision = authorize(request, identity=identity, resource=resource, boundary=boundary, session=session,
                         scp=scp, rcp=rcp, resource_requires_grant=trust)
    report(decision, files.texts, out)
    return 0 if decision.allowed else 1


def report(decision: Decision, texts: dict[str, str], out: TextIO) -> None:
    print(f"decision: {decision.effect}", file=out)
    if decision.matched:
        print("deciding statements:", file=out)
    for m in decision.matched:
        spans = statement_spans(texts.get(m.source, ""))
        line = spans[m.index].start_line if m.index < len(spans) else 1
        print(f"  {m.source}:{line} {m.sid or '-'} {m.effect}", file=out)
    missing = ", ".join(decision.missing_context_keys) or "none"
    print(f"missing context keys: {missing}", file=out)


def run_policy(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        if args.policy_command == "check":
            return check(args.file, PolicyKind(args.kind), out)
        return simulate(args, out)
    except PolicyFileError as e:
        print(e, file=err)
        return 2
    except UsageError as e:
        print(f"tessera: {e}", file=err)
        return 2
