"""Cross-site request forgery protection for every state-changing console request.

Two layers: the session cookie is SameSite=Strict, and each POST must echo a secret synchronizer
token (`csrf_token` form field) that only our own pages contain.  Before login there is no session,
so the login form uses the double-submit variant: a random value in a short-lived cookie and the
same value in the form.  A browser's `Origin` header, when present, must name our own host.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import FormData
from starlette.requests import Request

from console.auth import same_secret

FIELD = "csrf_token"
LOGIN_COOKIE = "dsr_login_csrf"


def form_token(form: FormData) -> str | None:
    value = form.get(FIELD)
    return value if isinstance(value, str) else None


def origin_ok(request: Request) -> bool:
    """True unless the browser says the request comes from another site."""
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", "")


def valid(request: Request, form: FormData, expected: str | None) -> bool:
    return origin_ok(request) and same_secret(form_token(form), expected)
