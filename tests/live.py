"""Real servers on free loopback ports for tests: an ASGI app run by uvicorn in a thread."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn

__all__ = ["free_port", "serve_in_thread"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_in_thread(
    app: Any, port: int | None = None
) -> tuple[str, uvicorn.Server, threading.Thread]:
    """Start ``app`` and wait (bounded) until it listens; its URL, server and thread."""
    port = port or free_port()
    # As the CLI runs it: forwarded headers are kubeline's guard's to believe or not.
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", proxy_headers=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    return f"http://127.0.0.1:{port}", server, thread
