"""The model file a path holds, and what it is: framework, input signature, libraries.

Loading a model runs its pickle, so the file is opened in a short-lived child interpreter
(:mod:`kubeline.registry.model_probe`, started with ``subprocess``: no fork, on every OS),
never in this process, which may be ``kubeline server``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from kubeline.errors import DataError

__all__ = ["INSPECT_TIMEOUT_SECONDS", "inspect_model", "model_file", "probe_environ"]

_MODEL_SUFFIXES = (".joblib", ".pkl", ".pickle")
_NOT_MODELS = (".md", ".json", ".yaml", ".yml", ".txt")  # a card or metadata beside it

#: How long opening a model file in its child process may take.
INSPECT_TIMEOUT_SECONDS = 120.0
_RESULT_BYTES = 4 * 1024 * 1024  # a signature of tens of thousands of features fits
_LOG_BYTES = 2000


def model_file(path: Path) -> Path:
    """The model file at ``path``: the file itself, or the one model file in a folder.

    Raises:
        DataError: nothing there, or a folder with no (or several) model files.
    """
    if path.is_file():
        return path
    if path.is_dir():
        found = sorted(p for p in path.rglob("*") if p.suffix in _MODEL_SUFFIXES and p.is_file())
        if not found:  # KFP names a Model output's file after the output: no suffix
            found = [
                p
                for p in sorted(path.rglob("*"))
                if p.is_file() and not p.name.startswith(".") and p.suffix not in _NOT_MODELS
            ]
        if len(found) == 1:
            return found[0]
        what = "no" if not found else f"{len(found)}"
        raise DataError(
            f"The folder '{path}' holds {what} model files ({', '.join(_MODEL_SUFFIXES)}); "
            "point at the file itself."
        )
    raise DataError(f"No model at '{path}': the file does not exist (or was removed).")


def probe_environ() -> dict[str, str]:
    """This process's environment without any ``KUBELINE_*`` variable: the child runs the
    model's code and needs none of them, and every secret of kubeline's is one (the server
    token, the cookie, the database URL with its password)."""
    return {k: v for k, v in os.environ.items() if not k.upper().startswith("KUBELINE_")}


def inspect_model(path: Path, *, timeout: float = INSPECT_TIMEOUT_SECONDS) -> dict[str, Any]:
    """Framework, input signature and library versions read off a saved scikit-learn model,
    by a child interpreter stopped after ``timeout`` seconds, answering in JSON of bounded
    size.

    Raises:
        DataError: nothing there, not a model joblib can load, or the child took too long,
            died or answered too much.
    """
    file = model_file(path).resolve()
    command = [sys.executable, "-m", "kubeline.registry.model_probe", str(file)]
    with tempfile.TemporaryDirectory(prefix="kubeline-probe-", ignore_cleanup_errors=True) as tmp:
        scratch = Path(tmp)  # also its working folder: nothing of ours to import or overwrite
        result, log = scratch / "result.json", scratch / "output.log"
        with log.open("wb") as output:
            child = subprocess.Popen(
                [*command, str(result)],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=output,
                env=probe_environ(),
                cwd=scratch,
            )
            try:
                code = child.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
                raise DataError(
                    f"Opening the model '{file}' took longer than {timeout:g} s, so it was "
                    "stopped. Check that it is a scikit-learn model saved with joblib."
                ) from None
        answer = _read_answer(result)
        if answer is None:
            tail = _tail(log)
            raise DataError(
                f"Opening the model '{file}' failed (its child process ended with exit code "
                f"{code} and no answer){': ' + tail if tail else '.'}"
            )
    if "error" in answer:
        raise DataError(str(answer["error"])[:_LOG_BYTES])
    found = answer.get("model")
    if not isinstance(found, dict):
        raise DataError(f"Opening the model '{file}' gave an answer kubeline cannot read.")
    return found


def _read_answer(result: Path) -> dict[str, Any] | None:
    """The child's JSON answer; None when it wrote none (or not JSON).

    Raises:
        DataError: the answer is larger than any signature needs.
    """
    try:
        with result.open("rb") as f:
            data = f.read(_RESULT_BYTES + 1)
    except OSError:
        return None
    if len(data) > _RESULT_BYTES:
        raise DataError(
            f"Opening a model gave an answer over {_RESULT_BYTES // 2**20} MiB, more than any "
            "signature needs; kubeline did not read it. Check that it is a scikit-learn model."
        )
    try:
        answer = json.loads(data)
    except ValueError:
        return None
    return answer if isinstance(answer, dict) else None


def _tail(log: Path) -> str:
    """The end of what the child printed: its error, without flooding a message."""
    try:
        with log.open("rb") as f:
            f.seek(max(0, log.stat().st_size - _LOG_BYTES))
            text = f.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""
