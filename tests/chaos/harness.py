"""The pieces the chaos test plays with: a real ``kubeline server`` and real ``kubeline run``
processes on one KUBELINE_HOME, the store read behind their backs, and the checks that must
hold once the server has recovered.

Every failure message starts with the seed (see :meth:`Chaos.say`), so a failing round can be
played again with ``KUBELINE_CHAOS_SEED``.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from kubeline.digest import content_digest
from kubeline.paths import local_path
from tests.chaos.pipelines import payload
from tests.live import free_port

__all__ = ["ACTIVE_RUN", "TERMINAL_RUN", "Chaos", "CliRun", "Server"]

ACTIVE_RUN = ("RUNNING", "PENDING", "CANCELING")
ACTIVE_TASK = ("RUNNING", "PENDING")
TERMINAL_RUN = ("SUCCEEDED", "FAILED", "CANCELED", "SKIPPED")
#: What the next engine start writes into a run whose process died (engine/runner.py).
ORPHANED = "ended before the run finished"
#: How the error of a run terminated through the API starts (server/manager.py).
TERMINATED = "Terminated on request"
#: The executor tasks of the chaos pipeline, each writing one ``data`` artifact.
CHAOS_TASKS = 5
#: The server's --max-runs: a round submits up to 4, so some may wait PENDING when it dies.
MAX_RUNS = 2


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "KUBELINE_HOME": str(home), "NO_COLOR": "1", "COLUMNS": "200"}


class Server:
    """``kubeline server`` in a subprocess on a free loopback port; its log in a file."""

    def __init__(self, home: Path, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        options = ["--port", str(self.port), "--max-runs", str(MAX_RUNS)]
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "kubeline", "server", *options],
                env=_env(home),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_ready(self, say: Any, seconds: float = 60) -> None:
        """Bounded: a server that exits or never answers fails the test with its log."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert self.proc.poll() is None, say(
                f"the server exited ({self.proc.returncode}) before it answered: {self.tail()}"
            )
            assert time.monotonic() < deadline, say(f"no server after {seconds} s: {self.tail()}")
            time.sleep(0.1)

    def kill(self) -> None:
        """kill -9, then reap it (so its pid is gone when the next engine start looks)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        """As a user stops it (SIGTERM, like Ctrl-C); kill -9 if it does not go."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def tail(self) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return f"server log {self.log} ends: {text[-1500:]!r}"


@dataclass
class CliRun:
    """A ``kubeline run`` process; its run is the one whose ``pid`` is the process's."""

    proc: subprocess.Popen[bytes]
    tag: str
    log: Path
    run_id: str | None = None
    killed_while: str | None = None  # the run's state when it was killed, if it was
    signal: str | None = None  # what it was stopped with, if it was

    def tail(self) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return f"{self.log} ends: {text[-1500:]!r}"


@dataclass
class Chaos:
    """One chaos test: its seed, its home, its compiled pipeline, and what it did."""

    seed: int
    home: Path
    work: Path
    spec: dict[str, Any]
    spec_file: Path
    #: The store's database: ``None`` for the SQLite file in the home, else its URL.
    database_url: str | None = None
    rng: random.Random = field(init=False)
    #: run_id -> what happened to it ("cli run cli3-42, killed while RUNNING in round 1"),
    #: for failure messages.
    story: dict[str, str] = field(default_factory=dict)
    counter: int = 0
    #: run_id -> what its error must say if it FAILED after being stopped (default: that
    #: its process ended, as the next engine start says).
    reasons: dict[str, str] = field(default_factory=dict)
    #: Every process this test started, for the clean-up whatever happens.
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self._engine: sa.Engine | None = None

    @property
    def sqlite(self) -> Path | None:
        """The SQLite file of the store, when it is one."""
        return None if self.database_url else self.home / "kubeline.db"

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()

    def say(self, message: str) -> str:
        """A failure message that names the seed to replay it with."""
        return f"[chaos seed {self.seed}; replay: KUBELINE_CHAOS_SEED={self.seed}] {message}"

    def _next_tag(self, kind: str) -> str:
        self.counter += 1
        return f"{kind}{self.counter}-{self.seed}"

    # --- starting runs -------------------------------------------------------------------

    def launch_server(self) -> Server:
        """A server starting (not waited for)."""
        self.counter += 1
        server = Server(self.home, self.work / f"server-{self.counter}.log")
        self.processes.append(server.proc)
        return server

    def start_server(self) -> Server:
        server = self.launch_server()
        server.wait_ready(self.say)
        return server

    def start_cli(self, seconds: float) -> CliRun:
        tag = self._next_tag("cli")
        log = self.work / f"{tag}.log"
        args = ["-p", f"tag={tag}", "-p", f"seconds={seconds:.2f}", "--no-cache"]
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "kubeline", "run", str(self.spec_file), *args],
                env=_env(self.home),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.processes.append(proc)
        return CliRun(proc, tag, log)

    def submit(self, server: Server, seconds: float) -> str:
        """A run through the KFP API (as kfp.Client posts it); its id."""
        tag = self._next_tag("api")
        body = {
            "display_name": tag,
            "pipeline_spec": self.spec,
            "runtime_config": {"parameters": {"tag": tag, "seconds": round(seconds, 2)}},
        }
        answer = httpx.post(f"{server.url}/apis/v2beta1/runs", json=body, timeout=60)
        assert answer.status_code == 200, self.say(f"submit: {answer.status_code} {answer.text}")
        run_id: str = answer.json()["run_id"]
        self.story[run_id] = f"api run {tag} on server pid {server.pid}"
        return run_id

    def submit_with_kfp(self, server: Server, seconds: float) -> str:
        """A run through kfp.Client, from the compiled file; its id."""
        import kfp

        tag = self._next_tag("kfp")
        result = kfp.Client(host=server.url).create_run_from_pipeline_package(
            str(self.spec_file),
            arguments={"tag": tag, "seconds": round(seconds, 2)},
            run_name=tag,
            enable_caching=False,
        )
        run_id: str = result.run_id
        self.story[run_id] = f"kfp.Client run {tag} on server pid {server.pid}, not killed"
        return run_id

    def terminate(self, server: Server, run_id: str, after: float) -> None:
        """Once the run is RUNNING (bounded), wait ``after`` seconds and terminate it with
        kfp.Client, as a user would."""
        import kfp

        deadline = time.monotonic() + 60
        while self.runs()[run_id]["state"] == "PENDING":
            assert time.monotonic() < deadline, self.say(f"run {run_id} PENDING for 60 s")
            time.sleep(0.05)
        time.sleep(after)
        kfp.Client(host=server.url).terminate_run(run_id)
        self.reasons[run_id] = TERMINATED
        self.story[run_id] = self.story.get(run_id, "") + f", terminated {after:.2f} s in"

    def wait_finished(self, server: Server, run_id: str, seconds: float) -> None:
        """Poll the API until the run is finished (bounded)."""
        deadline = time.monotonic() + seconds
        while True:
            answer = httpx.get(f"{server.url}/apis/v2beta1/runs/{run_id}", timeout=30)
            state = answer.json().get("state")
            if state in TERMINAL_RUN:
                return
            assert time.monotonic() < deadline, self.say(
                f"run {run_id} still {state} after {seconds} s: {server.tail()}"
            )
            time.sleep(0.2)

    # --- reading the store behind the engines' backs -------------------------------------

    def query(self, sql: str) -> list[dict[str, Any]]:
        """Rows of a read-only query, as dicts with JSON columns decoded (SQLite hands them
        back as text, PostgreSQL's driver as values). SQLite's WAL and PostgreSQL's MVCC
        let it read while the engines write."""
        if self._engine is None:
            url = self.database_url or f"sqlite:///{self.sqlite}"
            self._engine = sa.create_engine(url)
        with self._engine.connect() as conn:
            rows = [dict(row) for row in conn.execute(sa.text(sql)).mappings()]
        for row in rows:
            for key in ("arguments", "inputs", "outputs"):
                if isinstance(row.get(key), str):
                    row[key] = json.loads(row[key])
        return rows

    def runs(self) -> dict[str, dict[str, Any]]:
        """Every run in the store by id."""
        rows = self.query("SELECT run_id, state, error, pid, arguments FROM runs")
        return {row["run_id"]: row for row in rows}

    @staticmethod
    def run_of(tag: str, runs: dict[str, dict[str, Any]]) -> str | None:
        """The run whose ``tag`` argument is ``tag`` (each run's tag is its own; a pid
        could be an earlier round's, given again)."""
        for run_id, row in runs.items():
            if row["arguments"].get("tag") == tag:
                return run_id
        return None

    # --- the checks once the server has recovered ----------------------------------------

    def check_terminal(self, server: Server) -> dict[str, dict[str, Any]]:
        """No run or task left active, in the store and through the API; the runs."""
        stored = self.runs()
        active = {rid: r["state"] for rid, r in stored.items() if r["state"] in ACTIVE_RUN}
        assert not active, self.say(
            f"runs still active in the store: {active}; {self._why(active)}"
        )
        tasks = self.query("SELECT run_id, path, state FROM tasks")
        active_tasks = [t for t in tasks if t["state"] in ACTIVE_TASK]
        assert not active_tasks, self.say(f"tasks still active: {active_tasks}")
        answer = httpx.get(
            f"{server.url}/apis/v2beta1/runs", params={"page_size": 1000}, timeout=60
        )
        assert answer.status_code == 200, self.say(f"list runs: {answer.status_code}")
        listed = {run["run_id"]: run["state"] for run in answer.json().get("runs", [])}
        assert set(listed) == set(stored), self.say(
            f"the API lists other runs than the store: {set(listed) ^ set(stored)}"
        )
        wrong = {rid: s for rid, s in listed.items() if s not in TERMINAL_RUN}
        assert not wrong, self.say(f"the API says runs are not finished: {wrong}")
        differ = {
            rid: (s, stored[rid]["state"]) for rid, s in listed.items() if s != stored[rid]["state"]
        }
        assert not differ, self.say(f"API and store disagree (api, store): {differ}")
        return stored

    def _why(self, run_ids: Any) -> str:
        return "; ".join(f"{rid}: {self.story.get(rid, '?')}" for rid in run_ids)

    def check_outcomes(
        self, stored: dict[str, dict[str, Any]], expected: dict[str, tuple[str, ...]]
    ) -> None:
        """Each run of the round ended one of the ways its story allows; a FAILED one that
        was killed says its process ended."""
        for run_id, allowed in expected.items():
            run = stored.get(run_id)
            assert run is not None, self.say(
                f"run {run_id} is not in the store ({self._why([run_id])})"
            )
            assert run["state"] in allowed, self.say(
                f"run {run_id} is {run['state']} (error {run['error']!r}), expected one of "
                f"{allowed}: {self._why([run_id])}"
            )
            if run["state"] == "FAILED" and "SUCCEEDED" in allowed:
                reason = self.reasons.get(run_id, ORPHANED)
                assert reason in (run["error"] or ""), self.say(
                    f"stopped run {run_id} failed for another reason than {reason!r}: "
                    f"{run['error']!r}; {self._why([run_id])}"
                )

    def check_outputs(self, stored: dict[str, dict[str, Any]]) -> int:
        """Every SUCCEEDED task's outputs are whole: the file is there, its size and digest
        are the store's, its content is what the task wrote; a SUCCEEDED run has all its
        tasks SUCCEEDED. Returns how many artifacts were checked."""
        tasks = self.query(
            "SELECT task_id, run_id, name, path, kind, state, inputs, outputs FROM tasks"
        )
        artifacts = {row["artifact_id"]: row for row in self.query("SELECT * FROM artifacts")}
        done: dict[str, int] = {}
        checked = 0
        for task in tasks:
            if task["kind"] != "executor" or task["state"] != "SUCCEEDED":
                continue
            done[task["run_id"]] = done.get(task["run_id"], 0) + 1
            where = f"task {task['path']} of run {task['run_id']} ({self._why([task['run_id']])})"
            params = task["inputs"]["parameters"]
            outputs = task["outputs"]
            ids = outputs.get("artifact_ids", {}).get("data", [])
            assert len(ids) == 1, self.say(f"{where}: SUCCEEDED with artifacts {ids}")
            row = artifacts.get(ids[0])
            assert row is not None, self.say(f"{where}: artifact {ids[0]} has no row")
            path = local_path(row["uri"])
            assert path is not None and path.is_file(), self.say(f"{where}: {row['uri']} is gone")
            text = path.read_text()
            want = payload(params["tag"], params["label"])
            assert path.stat().st_size == row["size"], self.say(
                f"{where}: {path} has {path.stat().st_size} bytes, the store says {row['size']}"
            )
            assert text == want, self.say(
                f"{where}: {path} is not what the task wrote: {text[:80]!r}"
            )
            assert row["digest"] in (None, content_digest(row["uri"])), self.say(
                f"{where}: {path}'s digest is not the store's"
            )
            value = outputs["parameters"].get("Output")
            if task["name"] == "scribe":
                assert value == params["label"], self.say(f"{where}: returned {value!r}")
            if task["name"] == "reader":
                assert value == len(payload(params["tag"], "first")), self.say(
                    f"{where}: read {value!r}"
                )
            checked += 1
        for run_id, run in stored.items():
            if run["state"] == "SUCCEEDED":
                assert done.get(run_id) == CHAOS_TASKS, self.say(
                    f"SUCCEEDED run {run_id} has {done.get(run_id, 0)} SUCCEEDED tasks of "
                    f"{CHAOS_TASKS}: {self._why([run_id])}"
                )
        return checked

    def check_integrity(self) -> str:
        """``PRAGMA integrity_check`` on the SQLite file; what was checked, said."""
        if self.sqlite is None:
            return "PostgreSQL (no SQLite file to check)"
        conn = sqlite3.connect(self.sqlite, timeout=30)
        try:
            result = [row[0] for row in conn.execute("PRAGMA integrity_check")]
        finally:
            conn.close()
        assert result == ["ok"], self.say(f"PRAGMA integrity_check: {result}")
        return "integrity_check ok"
