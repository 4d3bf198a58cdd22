"""Write requirements.txt and requirements-full.txt: kubeline's runtime dependencies, the
whole closure, pinned to the versions installed in the development virtual environment, for
the container images.

    .venv/bin/python scripts/requirements_lock.py           # rewrite both locks
    .venv/bin/python scripts/requirements_lock.py --check   # exit 1 if one is out of date

requirements.txt is the default image's (``kubeline:<version>``): ``[project].dependencies``
only. requirements-full.txt is the ``-full`` image's: the same plus the extras in ``LOCKS``
(pyarrow, ``kubeline[parquet]``). An image installs its lock with ``pip install --no-deps``,
so a lock must hold every package the image needs and nothing else: the image then runs
exactly what the tests ran here.

The roots are pyproject.toml's dependencies (what a built kubeline's ``Requires-Dist`` says:
an editable install's metadata can be older than pyproject.toml), plus the extras' lists.
From them it walks each installed distribution's ``Requires-Dist`` (``importlib.metadata``),
following requested extras and evaluating markers for the image: Linux, x86_64, CPython
3.11. Run it with the virtual environment's Python.
"""

from __future__ import annotations

import argparse
import difflib
import importlib.metadata as metadata
import platform
import sys
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
LOCK = ROOT / "requirements.txt"
FULL_LOCK = ROOT / "requirements-full.txt"
#: Each lock file and the extras of pyproject.toml it adds to the dependencies.
LOCKS: dict[Path, tuple[str, ...]] = {LOCK: (), FULL_LOCK: ("parquet",)}

#: Marker values of the image (python:3.11-slim-bookworm on amd64), whatever machine runs this.
TARGET_ENVIRONMENT: dict[str, str] = {
    "implementation_name": "cpython",
    "implementation_version": "3.11.0",
    "os_name": "posix",
    "platform_machine": "x86_64",
    "platform_python_implementation": "CPython",
    "platform_release": "",
    "platform_system": "Linux",
    "platform_version": "",
    "python_full_version": "3.11.0",
    "python_version": "3.11",
    "sys_platform": "linux",
}

HEADER = """\
# Every runtime dependency of {what}, the whole closure, pinned to
# the versions installed in the development virtual environment (.venv), for the image
# {image}: the Dockerfile installs {name} with pip install --no-deps.
# Resolved for Linux x86_64, CPython 3.11 from pyproject.toml's
# {roots}; no dev tools.
# Generated: do not edit. Regenerate after changing dependencies or the venv:
#   .venv/bin/python scripts/requirements_lock.py
# Check (CI and tests/deploy/test_image.py): scripts/requirements_lock.py --check
"""


def header(extras: tuple[str, ...] = ()) -> str:
    """The lock's header, naming the extras it adds (none for requirements.txt)."""
    if not extras:
        return HEADER.format(
            what="kubeline",
            image="kubeline:<version>",
            name=LOCK.name,
            roots="dependencies, no extras",
        )
    listed = ",".join(extras)
    return HEADER.format(
        what=f"kubeline[{listed}]",
        image="kubeline:<version>-full",
        name=FULL_LOCK.name,
        roots=f"dependencies and extras {listed}",
    )


class LockError(Exception):
    """The virtual environment cannot give a lock: a package is missing or out of range."""


@dataclass
class Pin:
    name: str
    version: str
    via: set[str] = field(default_factory=set)


def project_table(pyproject: Path = PYPROJECT) -> dict:
    """pyproject.toml's ``[project]`` table."""
    return tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]


def direct_requirements(
    pyproject: Path = PYPROJECT, extras: tuple[str, ...] = ()
) -> list[Requirement]:
    """The runtime dependencies pyproject.toml declares, plus those of ``extras``."""
    project = project_table(pyproject)
    texts = list(project["dependencies"])
    for extra in extras:
        texts += project.get("optional-dependencies", {})[extra]
    return [Requirement(text) for text in texts]


def _environment(extra: str = "") -> dict[str, str]:
    env = dict(TARGET_ENVIRONMENT)
    if platform.python_version().startswith("3.11."):
        env["python_full_version"] = env["implementation_version"] = platform.python_version()
    env["extra"] = extra
    return env


def _applies(requirement: Requirement, extras: set[str]) -> bool:
    """Whether a requirement holds on the image, for a dist installed with ``extras``."""
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate(_environment(e)) for e in {"", *extras})


def resolve(roots: list[Requirement]) -> dict[str, Pin]:
    """Walk the installed closure of ``roots``: canonical name -> pin.

    Raises:
        LockError: a needed distribution is not installed, or its version is outside a
            range some requirement asks for.
    """
    pins: dict[str, Pin] = {}
    done: dict[str, set[str]] = {}  # canonical name -> extras already followed
    queue: list[tuple[Requirement, str]] = [(r, "kubeline") for r in roots]
    problems: list[str] = []
    while queue:
        requirement, parent = queue.pop(0)
        key = canonicalize_name(requirement.name)
        try:
            dist = metadata.distribution(requirement.name)
        except metadata.PackageNotFoundError:
            problems.append(f"{requirement} (needed by {parent}) is not installed")
            continue
        version = dist.version
        if not requirement.specifier.contains(version, prereleases=True):
            problems.append(f"{key} {version} does not satisfy {requirement} (needed by {parent})")
        pin = pins.setdefault(key, Pin(key, version))
        pin.via.add(parent)
        wanted = {canonicalize_name(e) for e in requirement.extras}
        seen = done.get(key)
        if seen is not None and wanted <= seen:
            continue
        new_extras = wanted - (seen or set())
        done[key] = (seen or set()) | wanted
        for text in dist.requires or []:
            child = Requirement(text)
            if seen is None:
                follow = _applies(child, wanted)
            else:  # only what the newly asked-for extras add
                follow = child.marker is not None and any(
                    child.marker.evaluate(_environment(e)) for e in new_extras
                )
            if follow:
                queue.append((child, key))
    if problems:
        raise LockError(
            "The virtual environment does not hold kubeline's dependencies:\n  "
            + "\n  ".join(problems)
            + "\nInstall them (.venv/bin/pip install -e '.[dev]') and run this again."
        )
    return pins


def render(pins: dict[str, Pin], extras: tuple[str, ...] = ()) -> str:
    """The lock file's text: header, then one ``name==version`` per package, sorted."""
    lines = [header(extras).rstrip("\n")]
    for key in sorted(pins):
        pin = pins[key]
        lines.append(f"{pin.name}=={pin.version}")
        lines.append(f"    # via {', '.join(sorted(pin.via))}")
    return "\n".join(lines) + "\n"


def read_pins(text: str) -> dict[str, str]:
    """``name==version`` lines of a lock file: canonical name -> version."""
    pins = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, version = line.partition("==")
        if not sep:
            raise ValueError(f"not a pin: {raw!r}")
        pins[canonicalize_name(name.strip())] = version.strip()
    return pins


def lock_text(extras: tuple[str, ...] = ()) -> str:
    return render(resolve(direct_requirements(extras=extras)), extras)


def _check(output: Path, text: str) -> bool:
    current = output.read_text(encoding="utf-8") if output.is_file() else ""
    if current == text:
        print(f"{output} is up to date.", file=sys.stderr)
        return True
    sys.stderr.writelines(
        difflib.unified_diff(
            current.splitlines(keepends=True),
            text.splitlines(keepends=True),
            str(output),
            "from the venv",
        )
    )
    print(
        f"{output} is out of date: run .venv/bin/python scripts/requirements_lock.py",
        file=sys.stderr,
    )
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a lock is out of date")
    parser.add_argument(
        "--output",
        type=Path,
        help="one lock file, of the dependencies and the --extra ones "
        "(default: requirements.txt and requirements-full.txt, as LOCKS says)",
    )
    parser.add_argument(
        "--extra", action="append", default=[], help="an extra of pyproject.toml, with --output"
    )
    args = parser.parse_args(argv)
    if args.extra and args.output is None:
        parser.error("--extra goes with --output")
    locks = {args.output: tuple(args.extra)} if args.output is not None else LOCKS
    try:
        texts = {output: lock_text(extras) for output, extras in locks.items()}
    except (LockError, KeyError) as exc:
        print(exc if isinstance(exc, LockError) else f"no such extra: {exc}", file=sys.stderr)
        return 2
    if args.check:
        results = [_check(output, text) for output, text in texts.items()]
        return 0 if all(results) else 1
    for output, text in texts.items():
        tmp = output.with_name(f".{output.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(output)
        print(f"Wrote {output} ({len(read_pins(text))} packages).", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
