"""The one direction of imports (DESIGN.md): cli -> bootstrap -> wire -> services ->
policy | federation | store | audit -> core. A module may import its own layer and the
layers to its right, never to its left."""
from __future__ import annotations

import ast
import pathlib

import pytest

APP = pathlib.Path(__file__).resolve().parents[2] / "app"
RANK = {"core": 0, "policy": 1, "federation": 1, "store": 1, "audit": 1, "settings": 1, "services": 2, "wire": 3, "sso": 3, "bootstrap": 4, "cli": 5}
PEERS_FORBIDDEN = {("policy", "store"), ("policy", "audit"), ("policy", "federation"), ("store", "policy"), ("audit", "store"), ("audit", "policy"), ("store", "audit")}


def layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "app" else None


def imports(path: pathlib.Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append(node.module)
    return out


MODULES = sorted(p for p in APP.rglob("*.py") if p.name != "__main__.py")


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(APP)))
def test_imports_flow_one_way(path):
    rel = path.relative_to(APP)
    own = rel.parts[0].removesuffix(".py")
    if own not in RANK:
        return
    for target in imports(path):
        other = layer(target)
        if other is None or other == own or other not in RANK:
            continue
        assert RANK[other] < RANK[own] or (RANK[other] == RANK[own] and (own, other) not in PEERS_FORBIDDEN and own != "core"), f"{rel} imports {target}"
        assert (own, other) not in PEERS_FORBIDDEN, f"{rel} imports {target}"


def test_core_uses_only_the_standard_library():
    import sys

    for path in (APP / "core").rglob("*.py"):
        for target in imports(path):
            top = target.split(".")[0]
            assert top == "app" and layer(target) == "core" or top in sys.stdlib_module_names or top == "__future__", f"{path.name} imports {target}"


def test_policy_validator_never_imports_the_evaluator():
    targets = imports(APP / "policy" / "validate.py")
    assert not any(t.startswith(("app.policy.evaluate", "app.policy.authorize")) for t in targets)
