"""The real headless browser of the sign-in tests: Debian's Chromium driven by Playwright
(never a downloaded browser), as `browser` and `page` fixtures, and screenshots under
tests/artifacts/ (git-ignored). A test module imports what it uses; importing this module skips
the importing module when Playwright or Chromium is missing (.ci/run installs both)."""
from __future__ import annotations

import os
import pathlib
from collections.abc import Iterator
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = pathlib.Path(__file__).resolve().parents[1] / "artifacts"
WIDE = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}

sync_api = pytest.importorskip("playwright.sync_api", reason="the test extras install playwright")
if not os.path.exists(CHROMIUM):  # pragma: no cover - .ci/run installs Debian's chromium
    pytest.skip("no system Chromium at /usr/bin/chromium (.ci/run installs it)", allow_module_level=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=WIDE)
    yield context.new_page()
    context.close()


def screenshot(page: Any, name: str) -> pathlib.Path:
    """The whole page as tests/artifacts/NAME.png; a rendered page, not a blank one."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 5000
    return path
