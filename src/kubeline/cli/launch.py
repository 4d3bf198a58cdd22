"""The ``kubeline`` program's entry point.

A plain ``kubeline run FILE.yaml`` starts its warm worker parent here, before the command
line's own imports (typer, rich, the commands: about 0.07 s), so the parent's imports of
pandas, scikit-learn and the like begin that much sooner, on another core. Everything else
is :func:`kubeline.cli.app.main`.
"""

from __future__ import annotations

import sys

__all__ = ["main"]


def main() -> int:
    from kubeline.cli import prestart
    from kubeline.cli.runline import read_run_line

    prestart.start_early(read_run_line(sys.argv[1:]))
    from kubeline.cli.app import main as app_main

    return app_main()
