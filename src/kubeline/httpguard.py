"""Who may talk to a server kubeline starts, checked before any route runs.

A server on loopback is still reachable from every web page the user opens: a cross-site
form post or ``fetch`` can write (start a run = run code), and DNS rebinding (a hostile
name that resolves to 127.0.0.1) can read and write as if same-origin. Two checks close
both, as Jupyter does:

- **Host**: a request must name this server by an address it answers to (loopback names,
  the bound address, names the user allows). A rebinding page sends its own name and is
  refused.
- **Origin**: a write (POST, PUT, PATCH, DELETE) from a browser must come from this
  server's own origin (scheme, host and port). Programs such as ``kfp.Client`` send no
  ``Origin`` and no ``Sec-Fetch-Site`` and pass.

Both servers (``kubeline server`` and ``kubeline serve``) use this one ASGI middleware; it
also checks an optional bearer token for servers that have no sign-in page of their own.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "LOOPBACK_NAMES",
    "GuardMiddleware",
    "RequestGuard",
    "is_loopback",
    "token_matches",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_SAFE_FETCH_SITES = frozenset({"same-origin", "none"})
_WILDCARDS = frozenset({"0.0.0.0", "::", ""})
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP addresses (``127.0.0.0/8``, ``::1``)."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def token_matches(given: str | bytes, expected: str) -> bool:
    """Constant-time compare that never raises, whatever bytes a client sent.

    ``hmac.compare_digest`` raises ``TypeError`` on a ``str`` with non-ASCII characters;
    comparing UTF-8 bytes keeps it constant-time and total.
    """
    if isinstance(given, str):
        given = given.encode("utf-8", "surrogateescape")
    return hmac.compare_digest(given, expected.encode("utf-8", "surrogateescape"))


def _split_host(value: str) -> tuple[str, int | None] | None:
    """``name[:port]`` or ``[v6][:port]`` -> (lowercased name, port); None if malformed."""
    value = value.strip()
    if not value or any(c in value for c in "/\\@ \t\r\n?#"):
        return None
    try:
        parts = urlsplit(f"//{value}")
        port = parts.port
    except ValueError:
        return None
    name = parts.hostname or ""
    return (name.lower(), port) if name else None


def _origin_of(scheme: str, host: str) -> tuple[str, str, int] | None:
    split = _split_host(host)
    if split is None:
        return None
    name, port = split
    return scheme.lower(), name, port or _DEFAULT_PORTS.get(scheme.lower(), 0)


def _parse_origin(origin: str) -> tuple[str, str, int] | None:
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        return None
    if not parts.scheme or not parts.hostname:
        return None  # "null" (sandboxed frames, file:) and anything malformed
    scheme = parts.scheme.lower()
    return scheme, parts.hostname.lower(), port or _DEFAULT_PORTS.get(scheme, 0)


@dataclass(frozen=True)
class RequestGuard:
    """What a server accepts. Build it with :meth:`for_bind` unless you know better.

    Attributes:
        allowed_hosts: names (lowercase, no port) a request's ``Host`` may carry; empty
            means any host (the check is off).
        trusted_proxies: client addresses whose ``X-Forwarded-Proto`` / ``X-Forwarded-Host``
            are believed (a TLS reverse proxy in front); nobody's by default.
        token: when set, every request but ``open_paths`` must carry
            ``Authorization: Bearer <token>`` (for servers with no sign-in page).
        open_paths: paths that need no token (health probes).
    """

    allowed_hosts: frozenset[str] = frozenset()
    trusted_proxies: frozenset[str] = frozenset()
    token: str | None = None
    open_paths: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def for_bind(
        cls,
        bound_host: str,
        *,
        allow_hosts: Iterable[str] = (),
        trusted_proxies: Iterable[str] = (),
        token: str | None = None,
        open_paths: Iterable[str] = (),
    ) -> RequestGuard:
        """The guard for a server bound to ``bound_host``.

        On loopback, ``Host`` must be a loopback name, the bound address or one of
        ``allow_hosts``. Off loopback (a team server behind a token, or ``kubeline serve``
        behind KServe's ingress, where ``Host`` is the service's name) the Host check is on
        only when ``allow_hosts`` names the hosts; ``*`` in ``allow_hosts`` turns it off.
        """
        extra = {h.strip().lower().strip("[]") for h in allow_hosts if h.strip()}
        host = bound_host.strip().lower().strip("[]")
        if "*" in extra or (not is_loopback(host) and not extra):
            allowed: frozenset[str] = frozenset()
        else:
            names = set(LOOPBACK_NAMES) | extra
            if host not in _WILDCARDS:
                names.add(host)
            allowed = frozenset(names)
        return cls(
            allowed_hosts=allowed,
            trusted_proxies=frozenset(p.strip() for p in trusted_proxies if p.strip()),
            token=token or None,
            open_paths=frozenset(open_paths),
        )

    # -- the checks, on plain values so they can be tested without a server --------------

    def host_problem(self, host: str) -> str | None:
        """Why ``host`` (a Host header) is refused, or None."""
        if not self.allowed_hosts:
            return None
        split = _split_host(host)
        if split is None:
            return f"The Host header {host[:100]!r} is not a valid host name."
        name = split[0].strip("[]")
        if name in self.allowed_hosts:
            return None
        return (
            f"Host {name[:100]!r} is not allowed: this server answers to "
            f"{', '.join(sorted(self.allowed_hosts))}. If you reach it by another name on "
            "purpose (a proxy, a tunnel), start it with --allow-host NAME."
        )

    def origin_problem(
        self,
        method: str,
        scheme: str,
        host: str,
        origin: str | None,
        fetch_site: str | None,
    ) -> str | None:
        """Why a write from a browser is refused, or None. Reads are never refused here."""
        if method.upper() not in _WRITES:
            return None
        site = fetch_site.strip().lower() if fetch_site is not None else None
        if fetch_site is not None and site not in _SAFE_FETCH_SITES:
            return (
                f"Cross-site request refused (Sec-Fetch-Site: {fetch_site[:40]}): only this "
                "server's own pages may change anything here."
            )
        if origin is None:
            return None  # not a browser (kfp.Client, curl), or a same-origin legacy GET
        if origin.strip() == "null" and site in _SAFE_FETCH_SITES:
            # A form posted by our own page under ``Referrer-Policy: no-referrer`` carries
            # ``Origin: null``; the browser's own Sec-Fetch-Site (which no page can set)
            # vouches that it came from this origin.
            return None
        own = _origin_of(scheme, host)
        if own is None or _parse_origin(origin) != own:
            shown = f"{own[0]}://{host}" if own else "this server"
            return (
                f"Cross-origin request refused: the page at {origin[:100]} may not change "
                f"anything on {shown}. Use kubeline's own UI, or a client that is not a "
                "browser. Behind a TLS reverse proxy, start the server with "
                "--trusted-proxy ADDRESS so it believes the proxy's X-Forwarded-Proto."
            )
        return None

    def token_problem(self, path: str, authorization: bytes | None) -> str | None:
        if not self.token or path in self.open_paths:
            return None
        if authorization is not None and token_matches(authorization, f"Bearer {self.token}"):
            return None
        return "Missing or wrong token: send 'Authorization: Bearer <token>'."


Refusal = Callable[[int, str], tuple[bytes, bytes]]


def _json_refusal(status: int, message: str) -> tuple[bytes, bytes]:
    return json.dumps({"error": message, "code": status}).encode(), b"application/json"


class GuardMiddleware:
    """Pure ASGI middleware applying a :class:`RequestGuard`; cheap enough for the model
    server's hot path (a few header look-ups, no allocation of a Request)."""

    def __init__(self, app: ASGIApp, guard: RequestGuard, refusal: Refusal = _json_refusal) -> None:
        self.app = app
        self.guard = guard
        self.refusal = refusal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers: dict[bytes, bytes] = {}
        for key, value in scope.get("headers", ()):
            headers.setdefault(key.lower(), value)
        guard = self.guard
        scheme = scope.get("scheme", "http")
        host = headers.get(b"host", b"").decode("latin-1")
        client = (scope.get("client") or ("", 0))[0]
        if guard.trusted_proxies and client in guard.trusted_proxies:
            proto = headers.get(b"x-forwarded-proto")
            if proto:
                scheme = proto.decode("latin-1").split(",")[0].strip().lower() or scheme
            forwarded_host = headers.get(b"x-forwarded-host")
            if forwarded_host:
                host = forwarded_host.decode("latin-1").split(",")[0].strip()
        problem = guard.host_problem(host)
        status = 403
        if problem is None:
            origin = headers.get(b"origin")
            site = headers.get(b"sec-fetch-site")
            problem = guard.origin_problem(
                scope.get("method", "GET"),
                scheme,
                host,
                origin.decode("latin-1") if origin is not None else None,
                site.decode("latin-1") if site is not None else None,
            )
        if problem is None:
            problem = guard.token_problem(scope.get("path", ""), headers.get(b"authorization"))
            status = 401
        if problem is None:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        body, content_type = self.refusal(status, problem)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", content_type),
                    (b"content-length", str(len(body)).encode()),
                    (b"referrer-policy", b"no-referrer"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
