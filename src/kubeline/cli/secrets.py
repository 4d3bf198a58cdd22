"""Where a server's token comes from, kept out of the process list and out of tasks.

``--token VALUE`` shows in ``ps`` to every user of the machine, so it is kept for
compatibility with a warning; ``--token-file`` and ``KUBELINE_TOKEN`` are the ways to
give one. The variable is removed from this process's environment once read, so no
child (a pipeline task) inherits it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from kubeline.errors import ConfigError

__all__ = ["TOKEN_ENV", "TokenFileOption", "TokenOption", "resolve_token"]

TOKEN_ENV = "KUBELINE_TOKEN"

TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token",
        help="Require 'Authorization: Bearer TOKEN'. Deprecated: it shows in the process "
        "list; use --token-file or KUBELINE_TOKEN.",
        show_default=False,
    ),
]
TokenFileOption = Annotated[
    Path | None,
    typer.Option(
        "--token-file",
        help="Read the token to require from this file (first line). KUBELINE_TOKEN works too.",
        show_default=False,
    ),
]


def resolve_token(
    token: str | None,
    token_file: Path | None,
    warn: Callable[[str], object] | None = None,
) -> str | None:
    """The token from ``--token-file``, ``--token`` or ``KUBELINE_TOKEN``, in that order.

    Raises:
        ConfigError: both options given, or an unreadable or empty file.
    """
    from_env = os.environ.pop(TOKEN_ENV, None)
    if token is not None and token_file is not None:
        raise ConfigError("Give the token once: --token-file or --token, not both.")
    if token_file is not None:
        try:
            lines = token_file.expanduser().read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"Cannot read the token file '{token_file}': {exc}") from exc
        value = lines[0].strip() if lines else ""
        if not value:
            raise ConfigError(f"The token file '{token_file}' is empty: put the token in it.")
        return value
    if token is not None:
        if warn is not None:
            warn(
                "--token shows in the process list to every user of this machine; "
                f"use --token-file PATH or the {TOKEN_ENV} environment variable instead."
            )
        return token.strip() or None
    return (from_env or "").strip() or None
