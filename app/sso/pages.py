"""Server-rendered pages: Jinja2 templates (autoescaped) and the headers every page carries.

Each response gets a fresh CSP nonce for its one inline stylesheet and its one inline script
(the copy buttons); nothing else may load or run: `default-src 'none'`, forms post only to this
service (plus the CLI's loopback address on a page that hands credentials to `tessera login`),
no framing, no `<base>`. Pages are never cached (`no-store`) and send no Referer.
"""
from __future__ import annotations

import pathlib
import secrets
from collections.abc import Mapping
from typing import Any

import jinja2
from starlette.responses import HTMLResponse, Response

TEMPLATES = pathlib.Path(__file__).resolve().parent / "templates"
_env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                          autoescape=jinja2.select_autoescape(["html"], default=True),
                          undefined=jinja2.StrictUndefined, trim_blocks=False)


def security_headers(nonce: str | None = None, *, form_targets: tuple[str, ...] = ()) -> dict[str, str]:
    source = f"'nonce-{nonce}'" if nonce else "'none'"
    forms = " ".join(("'self'", *form_targets))
    return {
        "Content-Security-Policy": (f"default-src 'none'; style-src {source}; script-src {source}; img-src 'self'; "
                                    f"form-action {forms}; frame-ancestors 'none'; base-uri 'none'"),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
        "Pragma": "no-cache",
        "X-Frame-Options": "DENY",
        "Cross-Origin-Opener-Policy": "same-origin",
    }


def render(template: str, context: Mapping[str, Any], *, status: int = 200,
           form_targets: tuple[str, ...] = (), headers: Mapping[str, str] | None = None) -> HTMLResponse:
    nonce = secrets.token_urlsafe(18)
    body = _env.get_template(template).render(nonce=nonce, **context)
    out = security_headers(nonce, form_targets=form_targets)
    out.update(headers or {})
    return HTMLResponse(body, status_code=status, headers=out)


def message(title: str, headline: str, detail: str | None = None, *, status: int = 400, tone: str = "bad",
            reference: str | None = None, signin: Any = None) -> HTMLResponse:
    return render("message.html", {"title": title, "headline": headline, "detail": detail, "tone": tone,
                                   "reference": reference, "signin": signin}, status=status)


def redirect(location: str, *, status: int = 303) -> Response:
    """A redirect carrying the pages' headers (the target is always this service's path or a
    URL this service built)."""
    headers = security_headers()
    headers["Location"] = location
    return Response(status_code=status, headers=headers)
