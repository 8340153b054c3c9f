"""The README's list of what is not served yet names exactly the operations that answer
`InvalidAction`: every operation of botocore's IAM and STS models without a service method."""
from __future__ import annotations

import pathlib
import re

import botocore.session
from botocore import xform_name

from app.services.iam import IamService
from app.services.sts import StsService

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"
BLOCK = re.compile(r"<!-- unsupported:begin -->(.*?)<!-- unsupported:end -->", re.S)


def unsupported() -> dict[str, list[str]]:
    session = botocore.session.get_session()
    out = {}
    for service, cls in (("IAM", IamService), ("STS", StsService)):
        model = session.get_service_model(service.lower())
        out[service] = sorted(op for op in model.operation_names if not callable(getattr(cls, xform_name(op), None)))
    return out


def render(ops: dict[str, list[str]]) -> str:
    lines = []
    for service, names in ops.items():
        lines.append(f"- {service} ({len(names)}): " + ", ".join(f"`{n}`" for n in names))
    return "\n" + "\n".join(lines) + "\n"


def test_readme_lists_every_unsupported_operation() -> None:
    found = BLOCK.search(README.read_text(encoding="utf-8"))
    assert found, "README.md lacks the <!-- unsupported:begin --> ... <!-- unsupported:end --> block"
    listed = set(re.findall(r"`([A-Za-z]+)`", found.group(1)))
    expected = unsupported()
    want = {n for names in expected.values() for n in names}
    assert listed == want, (
        f"README's unsupported list is stale: missing {sorted(want - listed)}, "
        f"served now {sorted(listed - want)}. Replace the block with:{render(expected)}"
    )
