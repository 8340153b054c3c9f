"""`tessera dev`'s banner names the account alias beside the account id when there is one."""
from __future__ import annotations

from app.cli.demo import Demo
from app.cli.dev import banner
from app.settings import Settings

SETTINGS = Settings(redis_url=None, account_id="123456789012")
DEMO = Demo("AKIADEMO", "secret", "arn:aws:iam::123456789012:role/demo")


def test_banner_shows_the_alias() -> None:
    assert "  account       123456789012  (tessera-demo)\n" in banner(SETTINGS, ("AKIAROOT", "s"), DEMO, "tessera-demo")


def test_banner_without_alias() -> None:
    text = banner(SETTINGS, ("AKIAROOT", "s"), DEMO)
    assert "  account       123456789012\n" in text and "(" not in text.split("account")[1].split("\n")[0]
