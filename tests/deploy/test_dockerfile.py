"""deploy/Dockerfile and .dockerignore, read without a Docker daemon: the stages, the user, the
health check, and that every path it copies is in the build context; then the builder stage's
wheel, built here from exactly the files the context would send."""
from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.deploy.context import DOCKERFILE, REPO, build_context, excluded, ignore_rules, stages

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def _exec_form(value: str) -> list[str]:
    words = json.loads(value)  # exec form only: no shell between the signal and the process
    assert isinstance(words, list) and all(isinstance(w, str) for w in words)
    return words


def _copy_sources(value: str) -> tuple[list[str], list[str]]:
    words = shlex.split(value)
    flags = [w for w in words if w.startswith("--")]
    paths = [w for w in words if not w.startswith("--")]
    return flags, paths[:-1]


def test_multi_stage_with_a_slim_python_311_runtime() -> None:
    all_stages = stages()
    assert len(all_stages) >= 2
    final = all_stages[-1]
    assert re.fullmatch(r"python:3\.11-slim(-\w+)?", final.base), final.base
    assert all_stages[0].base == final.base, "builder and runtime share one interpreter (the venv's symlinks)"
    # nothing built in the runtime stage: no compiler, no pip install there
    assert not any("pip install" in run or "apt-get install" in run for run in final.all("RUN"))


def test_the_runtime_runs_as_a_fixed_non_root_user() -> None:
    final = stages()[-1]
    users = final.all("USER")
    assert users, "the final stage sets USER"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) >= 1000, "a numeric UID (runAsNonRoot can only check a number)"
    assert not gid or (gid.isdigit() and int(gid) != 0)
    # the user it names is created in that stage with the same UID
    assert any(f"--uid {uid}" in run for run in final.all("RUN"))


def test_healthcheck_probes_healthz_on_the_served_port_without_curl() -> None:
    final = stages()[-1]
    (health,) = final.all("HEALTHCHECK")
    assert "/healthz" in health
    cmd = _exec_form(health.split("CMD", 1)[1].strip())
    assert cmd[0] == "python"  # the image has no curl or wget
    served = _exec_form(final.all("CMD")[-1])
    port = served[served.index("--port") + 1]
    assert f"127.0.0.1:{port}/healthz" in health
    assert final.all("EXPOSE") == [port]


def test_entrypoint_and_cmd_run_tessera_serve_on_every_interface() -> None:
    final = stages()[-1]
    assert _exec_form(final.all("ENTRYPOINT")[-1]) == ["tessera"]
    assert "tessera" in PYPROJECT["project"]["scripts"]
    cmd = _exec_form(final.all("CMD")[-1])
    assert cmd[0] == "serve"
    assert cmd[cmd.index("--host") + 1] == "0.0.0.0"
    assert int(cmd[cmd.index("--workers") + 1]) >= 1


def test_no_byte_code_written_and_nothing_secret_baked_in() -> None:
    final = stages()[-1]
    env = " ".join(final.all("ENV"))
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    text = DOCKERFILE.read_text(encoding="utf-8")
    for name in ("TESSERA_MASTER_KEY", "TESSERA_ROOT_SECRET_ACCESS_KEY", "TESSERA_REDIS_URL"):
        assert not re.search(rf"^\s*(ENV|ARG)\b.*{name}", text, re.M), f"{name} must not be baked into the image"


def test_no_add_and_no_download() -> None:
    for stage in stages():
        for value in stage.all("ADD"):
            assert not re.search(r"(?i)\b(https?|git)://|git@", value), f"ADD of a URL: {value}"
        assert not stage.all("ADD"), "COPY is enough for local files; ADD unpacks archives and fetches URLs"
        for run in stage.all("RUN"):
            assert not re.search(r"\b(curl|wget)\b", run), f"a download in a RUN: {run}"


def test_every_copy_source_is_in_the_build_context() -> None:
    context = set(build_context())
    names = {s.name for s in stages()}
    copied = 0
    for stage in stages():
        for value in stage.all("COPY"):
            flags, sources = _copy_sources(value)
            source_stage = next((f.split("=", 1)[1] for f in flags if f.startswith("--from=")), None)
            if source_stage is not None:
                assert source_stage in names, f"COPY --from an unknown stage: {value}"
                continue
            for src in sources:
                assert not re.search(r"[*?\[]", src) or any(Path(p).match(src) for p in context)
                path = REPO / src
                assert path.exists(), f"COPY source `{src}` does not exist in the repository"
                inside = [p for p in context if p == src or p.startswith(src.rstrip("/") + "/")]
                assert inside, f"COPY source `{src}` is excluded by .dockerignore"
                copied += 1
    assert copied >= 3


def test_the_builder_installs_this_project_from_its_pyproject() -> None:
    builder = stages()[0]
    steps = builder.instructions
    copies = [i for i, (ins, _) in enumerate(steps) if ins == "COPY" and "pyproject.toml" in steps[i][1]]
    installs = [i for i, (ins, v) in enumerate(steps) if ins == "RUN" and re.search(r"pip (wheel|install)[^&]* \.(\s|$)", v)]
    assert copies and installs and copies[0] < installs[0], "pyproject.toml is copied, then `.` is built"
    # the runtime takes the virtualenv the builder filled
    runtime_copies = stages()[-1].all("COPY")
    venvs = re.findall(r"python -m venv (\S+)", " ".join(builder.all("RUN")))
    assert venvs and any(f"--from={builder.name} {venvs[0]} {venvs[0]}" in c for c in runtime_copies)


def test_dockerignore_sends_the_package_and_nothing_else() -> None:
    context = build_context()
    assert "pyproject.toml" in context and "README.md" in context
    assert "app/cli/main.py" in context
    # package data the wheel must carry (pyproject's tool.setuptools.package-data)
    assert any(p.startswith("app/policy/managed/") and p.endswith(".json.xz") for p in context)
    assert any(p.startswith("app/sso/templates/") and p.endswith(".html") for p in context)
    assert not [p for p in context if p.startswith(("tests/", ".git/", "deploy/", "idp_fixtures/"))]
    assert not [p for p in context if "__pycache__" in p or p.endswith(".pyc")]


@pytest.mark.parametrize(
    ("path", "rules", "out"),
    [
        ("tests/unit/x.py", "*\n!app/\n", True),
        ("app/x.py", "*\n!app/\n", False),
        ("app/a/__pycache__/m.pyc", "*\n!app/\n**/__pycache__\n", True),
        ("app/a/m.pyc", "*\n!app/\n**/*.py[cod]\n", True),
        ("README.md", "*.md\n!README.md\n", False),
        ("docs/x.md", "*.md\n", False),  # `*` does not cross a folder
    ],
)
def test_the_dockerignore_reading_used_here(path: str, rules: str, out: bool) -> None:
    assert excluded(path, ignore_rules(rules)) is out


def test_the_builder_stage_builds_a_complete_wheel_from_the_context(tmp_path: Path) -> None:
    """What `pip wheel --no-deps .` does in the builder, on a copy of the build context only:
    the wheel has the package, its data files and the console script. (The dependencies'
    wheels and the image itself are not built here: no Docker daemon on this machine.)"""
    src = tmp_path / "src"
    for rel in build_context():
        dest = src / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, dest)
    # as in the builder: pip's isolated build environment with pyproject's build-system.requires
    run = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir",
                          str(tmp_path / "wheels"), "."], cwd=src, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    (wheel,) = (tmp_path / "wheels").glob("tessera-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        entry_points = next(zf.read(n).decode() for n in names if n.endswith("entry_points.txt"))
    assert "app/cli/main.py" in names and "app/bootstrap.py" in names
    assert any(n.startswith("app/policy/managed/") and n.endswith(".json.xz") for n in names)
    assert any(n.startswith("app/sso/templates/") and n.endswith(".html") for n in names)
    assert re.search(r"^tessera = app\.cli\.main:main$", entry_points, re.M)
    assert not [n for n in names if n.startswith("tests/")]
