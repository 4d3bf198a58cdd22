"""uvicorn's HTTP protocol with ``TCP_NODELAY`` on every connection.

With several workers, uvicorn binds the listening socket itself as
``socket.socket(family=...)``, whose ``proto`` is 0; asyncio sets ``TCP_NODELAY`` only on
sockets whose ``proto`` is ``IPPROTO_TCP``, so the workers' connections keep Nagle's
algorithm on. uvicorn writes a response's head and body in two writes, and the second then
waits for the client's delayed ACK: about 40 ms per request on Linux, instead of a
fraction of one. This protocol sets the option itself when a connection is made, whatever
bound the socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

try:  # uvicorn's C parser when httptools is installed (a kubeline dependency), else h11
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _Protocol
except ImportError:  # pragma: no cover - httptools missing
    # The other parser's class under the same name: mypy wants one class per name.
    from uvicorn.protocols.http.h11_impl import H11Protocol as _Protocol  # type: ignore[assignment]

__all__ = ["PROTOCOL", "NoDelayHTTPProtocol"]

#: What to give uvicorn's ``http`` option: an import string survives the worker spawn.
PROTOCOL = "kubeline.serving.transport:NoDelayHTTPProtocol"


class NoDelayHTTPProtocol(_Protocol):
    """uvicorn's protocol, sending small responses at once (see the module's docstring)."""

    # asyncio.Protocol takes any BaseTransport; uvicorn's protocols (and so this one) need
    # a stream transport, a narrower parameter than the base class's: hence the ignore.
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
