"""DESIGN.md asks for `mypy --strict` on app/: this keeps the package type-clean, so a type
error (often a latent None or a wrong container type) fails the suite instead of piling up."""
from __future__ import annotations

import os
import pathlib

import pytest
from mypy import api

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_app_is_mypy_strict_clean(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # mypy reads its configuration from the working directory
    out, err, status = api.run(["app", "--strict", "--ignore-missing-imports", "--cache-dir", os.fspath(tmp_path)])
    assert status == 0, f"mypy --strict app:\n{out}{err}"
