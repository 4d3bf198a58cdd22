"""Sign in with the server's token, for a browser: ``kubeline server --token`` protects the
API with a bearer header, which page loads cannot send, so the token goes in a cookie."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kubeline.httpguard import token_matches
from kubeline.server.web.templating import render

__all__ = ["TOKEN_COOKIE", "router"]

TOKEN_COOKIE = "kubeline_token"
router = APIRouter()


def _safe_next(target: str) -> str:
    """Only a path on this server: never send the reader elsewhere after signing in."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/runs"
    return target


@router.get("/login", response_class=HTMLResponse, name="web-login")
def login_page(request: Request, next: str = "/runs", token: str = "") -> Response:
    """The sign-in form; with ``?token=`` (the link ``kubeline ui`` opens) it signs in at
    once and redirects, so the token leaves the address bar."""
    if token:
        return login(request, token=token, next=next)
    return render(request, "login.html", {"next": _safe_next(next), "error": ""})


@router.post("/login", name="web-login-post")
def login(
    request: Request,
    token: str = Form(""),
    next: str = Form("/runs"),
) -> Response:
    expected = request.app.state.settings.token
    if not expected:
        return RedirectResponse(_safe_next(next), status_code=303)
    if not token_matches(token.strip(), expected):
        return render(
            request,
            "login.html",
            {"next": _safe_next(next), "error": "That token is not this server's token."},
            status_code=401,
        )
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(TOKEN_COOKIE, expected, httponly=True, samesite="strict")
    return response
