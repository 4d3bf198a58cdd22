"""A cap on request bodies, checked while they arrive: a 50 MB JSON body must be refused
with a 413 before it is parsed or stored, whether or not the client says its length."""

from __future__ import annotations

import json
from typing import Any

from kubeline.server.errors import error_body

__all__ = ["BodyLimitMiddleware"]

# A multipart upload carries its boundaries and headers beside the file, whose own limit
# the upload route checks with a precise message.
_MULTIPART_SLACK = 64 * 1024


def _message(limit: int) -> str:
    return (
        f"The request body is larger than {limit:,} bytes, this server's limit. "
        "Send a smaller pipeline, or upload the file instead."
    )


class BodyLimitMiddleware:
    """Pure ASGI: refuse with 413 once a body passes ``limit`` bytes."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", ()))
        limit = self.limit
        if headers.get(b"content-type", b"").startswith(b"multipart/"):
            limit += _MULTIPART_SLACK
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._refuse(send, limit)
            return
        seen = 0
        started = refused = False

        async def counted_receive() -> Any:
            # Past the limit, answer 413 at once and tell the app the client has gone: an
            # exception would reach the route wrapped (BaseHTTPMiddleware's task group) and
            # come out as a 400 "error parsing the body".
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    refused = True
                    if not started:
                        await self._refuse(send, limit)
                    return {"type": "http.disconnect"}
            return message

        async def tracked_send(message: Any) -> None:
            nonlocal started
            if refused:
                return  # the 413 was the answer
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, counted_receive, tracked_send)

    async def _refuse(self, send: Any, limit: int) -> None:
        body = json.dumps(error_body(413, _message(limit))).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
