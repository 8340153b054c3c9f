"""`tessera serve`'s start-up errors name the store's URL without its passwords."""
from __future__ import annotations

import socket

import pytest

from app.cli.serve import redact, run_serve


def _dead_port() -> int:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("url", [
    "redis://app:hunter2@127.0.0.1:{port}/0",
    "redis+cluster://hunter2@127.0.0.1:{port}",  # a password alone: the parsers' `secret@host` form
    "redis+sentinel://127.0.0.1:{port}/svc?sentinel_password=hunter2",
    "redis://127.0.0.1:{port}/0?password=hunter2",
    "redis://hun:ter2/x@127.0.0.1:{port}/0",  # raw `/`: redis-py reads `hun:ter2` as host:port
    "redis://hun:ter2?x@127.0.0.1:{port}/0",
])
def test_an_unreachable_store_is_named_without_its_password(url: str, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("TESSERA_REDIS_URL_FILE", "TESSERA_MASTER_KEY_FILE", "TESSERA_REDIS_WAIT_REPLICAS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TESSERA_REDIS_URL", url.format(port=_dead_port()))
    monkeypatch.setenv("TESSERA_MASTER_KEY", "a" * 43 + "=")
    assert run_serve(host="127.0.0.1", port=8080, workers=1) == 1
    err = capsys.readouterr().err
    assert err.startswith("tessera: cannot reach Redis at ") and err.count("\n") == 1
    assert "hunter2" not in err and "ter2" not in err


def test_redact_keeps_what_locates_the_store() -> None:
    assert redact("redis://app:pw@10.0.0.1:6379/2") == "redis://app:***@10.0.0.1:6379/2"
    assert redact("rediss+cluster://s@h1:7000,h2:7000") == "rediss+cluster://***@h1:7000,h2:7000"
    assert redact("redis+sentinel://h:1/svc?sentinel_tls=yes&sentinel_password=p@ss") == \
        "redis+sentinel://h:1/svc?sentinel_tls=yes&sentinel_password=***"
    assert redact("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
