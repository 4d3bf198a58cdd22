"""How large kubeline's image is above its base (issue #15, item 6; goal: at most 450 MB),
and what takes the space: every component's task pulls this image on each cluster node.

    python3 tasks.py image                      # kubeline:<version>
    .venv/bin/python bench/image_size.py [--image kubeline:0.1.0] [--top 15]

    .venv/bin/python bench/image_size.py --image kubeline:0.1.0-full   # tasks.py image --full

It reads the image and its base from the local Docker engine (``docker image inspect``), the
image's own layers (``docker history``: those above the base's), and the installed packages'
sizes from inside the image (``du`` of its site-packages), and prints three tables: the size
above the base beside the goal, the layers, the largest packages. Exit 2 when Docker or the
image is missing.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOAL_MB = 450
_SITE = "import sysconfig; print(sysconfig.get_path('purelib'))"


def _docker(*args: str, timeout: float = 120) -> str:
    done = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip() or f"docker {' '.join(args)} failed")
    return done.stdout


def _size_mb(image: str) -> float:
    return int(json.loads(_docker("image", "inspect", image))[0]["Size"]) / 1e6


def _base_of(image: str) -> str:
    """The base the image was built on: its Dockerfile's FROM (the stand-in carries the tag)."""
    for line in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines():
        if line.startswith("FROM "):
            return line.split()[1]
    raise RuntimeError("the Dockerfile has no FROM line")


def _history(image: str) -> list[tuple[float, str]]:
    """The image's layers, newest first: (MB, the instruction that made it)."""
    out = _docker(
        "history", "--no-trunc", "--human=false", "--format", "{{.Size}}\t{{.CreatedBy}}", image
    )
    rows = []
    for line in out.splitlines():
        size, _, made_by = line.partition("\t")
        rows.append((int(size or 0) / 1e6, made_by.strip()))
    return rows


def _own_layers(image: str, base: str) -> list[tuple[float, str]]:
    """The layers the Dockerfile added above its base (the base's history is the tail)."""
    mine, theirs = _history(image), _history(base)
    return mine[: len(mine) - len(theirs)]


def _instruction(made_by: str, width: int = 70) -> str:
    """``RUN pip install ...`` from docker history's ``/bin/sh -c ...`` form, shortened."""
    text = " ".join(made_by.split())
    for prefix in ("/bin/sh -c #(nop) ", "/bin/sh -c "):
        if prefix in text:
            rest = text.partition(prefix)[2]
            text = rest if prefix.endswith("(nop) ") else f"RUN {rest}"
            break
    if text.startswith("|"):  # "|2 REVISION=... VERSION=... /bin/sh -c ..." (build arguments)
        text = "RUN " + text.split("/bin/sh -c ", 1)[-1]
    text = text.replace("|", "\\|")
    return text if len(text) <= width else text[: width - 1] + "…"


def _packages(image: str, top: int) -> list[tuple[float, str]]:
    """The largest entries of the image's site-packages, in MB (a package and its .libs)."""
    script = f'cd "$(python3 -c "{_SITE}")" && du -sk -- * | sort -rn | head -n {top}'
    out = _docker("run", "--rm", "--network", "none", "--entrypoint", "sh", image, "-c", script)
    rows = []
    for line in out.splitlines():
        kb, _, name = line.partition("\t")
        if kb.strip().isdigit():
            rows.append((int(kb) / 1000, name.strip()))
    return rows


def main(argv: list[str] | None = None) -> int:
    from kubeline import __version__

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default=f"kubeline:{__version__}")
    parser.add_argument("--top", type=int, default=15, help="how many packages to list")
    args = parser.parse_args(argv)
    if shutil.which("docker") is None:
        print("no docker command: install Docker (python3 tasks.py docker start)", file=sys.stderr)
        return 2
    try:
        base = _base_of(args.image)
        total, below = _size_mb(args.image), _size_mb(base)
        packages = _packages(args.image, args.top)
        layers = _own_layers(args.image, base)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        print(
            f"cannot measure {args.image}: {exc} (build it: python3 tasks.py image)",
            file=sys.stderr,
        )
        return 2
    above = total - below
    met = "yes" if above <= GOAL_MB else "no"
    if args.image.endswith("-full"):  # pyarrow on top: the goal is the default image's
        met = f"{met} (the goal is the default image's)"
    print(f"| image | size | base ({base}) | above the base | goal | met? |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    sizes = f"{total:.0f} MB | {below:.0f} MB | {above:.0f} MB"
    print(f"| {args.image} | {sizes} | <= {GOAL_MB} MB | {met} |")
    print()
    print(f"| layer above the base (newest first; {sum(mb for mb, _ in layers):.0f} MB) | MB |")
    print("| --- | ---: |")
    for size, made_by in layers:
        if size >= 0.05:
            print(f"| `{_instruction(made_by)}` | {size:.1f} |")
    empty = sum(1 for size, _ in layers if size < 0.05)
    print(f"| {empty} more, of metadata (LABEL, ENV, USER...) or under 0.05 MB | 0.0 |")
    print()
    print("| installed package (site-packages) | MB |")
    print("| --- | ---: |")
    for size, name in packages:
        print(f"| {name} | {size:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
