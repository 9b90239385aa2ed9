"""Cross-site request forgery protection for every state-changing console request.

Two layers: the session cookie is SameSite=Strict, and each POST must echo a secret synchronizer
token (`csrf_token` form field) that only our own pages contain.  Before login there is no session,
so the login form uses the double-submit variant: a random value in a short-lived cookie and the
same value in the form.  Requests a browser marks as cross-site (`Sec-Fetch-Site`, `Origin`) are
refused even with a token.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import FormData
from starlette.requests import Request

from dsr.console.auth import same_secret

FIELD = "csrf_token"
LOGIN_COOKIE = "dsr_login_csrf"


def form_token(form: FormData) -> str | None:
    value = form.get(FIELD)
    return value if isinstance(value, str) else None


def origin_ok(request: Request) -> bool:
    """False when the browser says the request comes from another site.

    `Sec-Fetch-Site` is authoritative where sent; an `Origin` header, where it names an origin,
    must be our host.  (`Origin: null` carries no information; the token alone decides then.)
    """
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return True
    return urlsplit(origin).netloc == request.headers.get("host", "")


def valid(request: Request, form: FormData, expected: str | None) -> bool:
    return origin_ok(request) and same_secret(form_token(form), expected)
