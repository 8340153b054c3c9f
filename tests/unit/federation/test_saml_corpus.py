"""The SAML attack corpus (tests/cases/saml/*.yaml): each case built by its idp_fixtures
builder and validated; the reason and the AWS error must be exactly the expected ones, and
no payload may cause an outbound connection (a local listener whose URL the payloads
reference must have no pending connection afterwards, and Python sockets may not connect)."""
from __future__ import annotations

import pathlib
import select
import socket
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from app.core import errors
from app.federation.saml.validate import SamlRejected, SamlTrust, validate_saml_response
from idp_fixtures.saml.attacks import BUILDERS, Target
from tests.unit.federation.saml_env import NOW, SETTINGS, URL, trust

CASES_DIR = pathlib.Path(__file__).resolve().parents[2] / "cases" / "saml"


def load_cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    for path in sorted(CASES_DIR.glob("*.yaml")):
        for case in yaml.safe_load(path.read_text(encoding="utf-8")):
            case["file"] = path.name
            cases.append(case)
    return cases


CASES = load_cases()


def test_corpus_is_well_formed() -> None:
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    for case in CASES:
        assert case.get("note"), f"{case['id']} needs a note"
        assert case["build"] in BUILDERS, f"{case['id']}: unknown builder {case['build']}"
        expect = case["expect"]
        assert expect.get("accept") or hasattr(errors, expect["error"]), case["id"]


@pytest.fixture(scope="module")
def listener() -> Iterator[socket.socket]:
    """A listening socket nobody accepts on: a connection attempt stays pending in its backlog."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield sock
    sock.close()


def pending(sock: socket.socket) -> bool:
    readable, _, _ = select.select([sock], [], [], 0)
    return bool(readable)


def test_the_listener_sees_a_connection(listener: socket.socket) -> None:
    """The no-outbound check can fail: a real connection shows up as pending."""
    client = socket.create_connection(listener.getsockname())
    try:
        select.select([listener], [], [], 5)
        assert pending(listener)
        listener.accept()[0].close()
    finally:
        client.close()
    assert not pending(listener)


def _trust(spec: dict[str, Any] | None) -> SamlTrust:
    spec = spec or {}
    return trust(*spec.get("certs", ("idp",)), keys=tuple(spec.get("keys", ("sp",))), required=spec.get("required", False))


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_case(case: dict[str, Any], listener: socket.socket, monkeypatch: pytest.MonkeyPatch) -> None:
    host, port = listener.getsockname()
    target = Target(recipient=URL, audience=URL, now=NOW, callback=f"http://{host}:{port}/")
    text = BUILDERS[case["build"]](target, **case.get("args", {}))
    attempts: list[object] = []

    def refuse(self: socket.socket, address: object) -> None:
        attempts.append(address)
        raise OSError("outbound connections are not allowed while validating")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    expect = case["expect"]
    try:
        if expect.get("accept"):
            identity = validate_saml_response(text, _trust(case.get("trust")), SETTINGS, NOW)
            assert identity.subject == expect["subject"]
            if "subject_type" in expect:
                assert identity.subject_type == expect["subject_type"]
        else:
            with pytest.raises(SamlRejected) as caught:
                validate_saml_response(text, _trust(case.get("trust")), SETTINGS, NOW)
            rejected = caught.value
            if "reason" in expect:
                assert rejected.reason == expect["reason"]
            error = rejected.to_aws_error()
            assert error.code == getattr(errors, expect["error"]).code
            assert error.reason == rejected.reason
            assert error.message and "admin@example.test" not in error.message and "alice" not in error.message
            if "message" in expect:
                assert error.message == expect["message"]
    finally:
        monkeypatch.undo()
    assert not attempts, f"{case['id']}: a Python socket tried to connect to {attempts}"
    assert not pending(listener), f"{case['id']}: the payload made a connection to the listener"
