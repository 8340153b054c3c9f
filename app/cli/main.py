"""`tessera` entry point."""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tessera", description="Self-hosted AWS IAM + STS")
    sub = p.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the service against Redis (TESSERA_REDIS_URL)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--workers", type=int, default=1)
    dev = sub.add_parser("dev", help="run everything on this machine: embedded store, demo account")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=8080)
    from app.cli import credential_process, login

    login.add_arguments(sub.add_parser("login", help="sign in through the browser and get credentials in a profile"))
    credential_process.add_arguments(sub.add_parser(
        "credential-process", help="print a signed-in profile's credentials for AWS SDKs (credential_process)"))
    policy = sub.add_parser("policy", help="check and simulate policy documents locally")
    psub = policy.add_subparsers(dest="policy_command", required=True)
    check = psub.add_parser("check", help="validate a policy file (errors as FILE:LINE:COL: message)")
    check.add_argument("file")
    check.add_argument("--kind", default="identity", choices=["identity", "resource", "trust", "boundary", "session", "scp", "rcp"])
    sim = psub.add_parser("simulate", help="decide one request against local policy files")
    sim.add_argument("--identity", action="append", default=[], help="identity policy file (repeatable)")
    sim.add_argument("--resource-policy", action="append", default=[], help="resource/trust policy file (repeatable)")
    sim.add_argument("--boundary", help="permissions boundary policy file")
    sim.add_argument("--session", action="append", default=None, help="session policy file (repeatable)")
    sim.add_argument("--scp", action="append", default=None, help="service control policy file (repeatable; one level)")
    sim.add_argument("--rcp", action="append", default=None, help="resource control policy file (repeatable; one level)")
    sim.add_argument("--principal", required=True, help="principal ARN (or a service / IdP name with --principal-type)")
    sim.add_argument("--principal-type", default="AWS", choices=["AWS", "Service", "Federated", "Anonymous"])
    sim.add_argument("--action", required=True)
    sim.add_argument("--resource", default="*", help="resource ARN (default: *)")
    sim.add_argument("--context", action="append", default=[], help="KEY=VALUE (repeat a key for a multivalued key)")
    from app.cli.sso import add_parser as add_sso

    add_sso(sub)
    from app.cli.report import add_parser as add_report

    add_report(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        from app.cli.serve import run_serve

        return run_serve(host=args.host, port=args.port, workers=args.workers)
    if args.command == "dev":
        from app.cli.dev import run_dev

        return run_dev(host=args.host, port=args.port)
    if args.command == "login":
        from app.cli.login import run_login

        return run_login(args)
    if args.command == "credential-process":
        from app.cli.credential_process import run_credential_process

        return run_credential_process(args)
    if args.command == "policy":
        from app.cli.policy import run_policy

        return run_policy(args)
    if args.command == "sso":
        from app.cli.sso import run_sso

        return run_sso(args)
    if args.command == "report":
        from app.cli.report import run_report

        return run_report(args)
    return 2  # pragma: no cover - argparse enforces the choices


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
