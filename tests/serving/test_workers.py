"""Several worker processes: ``run_server`` with ``workers=2`` in a real subprocess (uvicorn
spawns the workers, each building its app from the config file), both protocols answering
from both workers, metrics added up across workers, and a clean stop on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import numpy as np
from prometheus_client.mmap_dict import MmapedDict

from kubeline.serving import ServeConfig
from tests.live import free_port
from tests.serving.conftest import IRIS_ROWS, Models
from tests.serving.helpers import metric_samples

REPO = Path(__file__).resolve().parents[2]


def _wait_ready(url: str, process: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:  # bounded: the workers import scikit-learn first
        if process.poll() is not None:
            raise AssertionError(f"the server exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/v2/health/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("the server did not get ready")


def _answered_by_worker(temp: Path) -> dict[str, float]:
    """Requests each worker process has answered, by its pid: in multiprocess mode every
    worker counts in its own file (``counter_<pid>.db``) of the server's metrics folder."""
    answered: dict[str, float] = {}
    for file in temp.glob("kubeline-serve-*/metrics/counter_*.db"):
        total = sum(
            entry[1]
            for entry in MmapedDict.read_all_values_from_file(str(file))
            if json.loads(entry[0])[1] == "kubeline_serving_requests_total"
        )
        if total:
            answered[file.stem.removeprefix("counter_")] = total
    return answered


def test_two_workers_answer_both_protocols(
    serve_config: ServeConfig, models: Models, tmp_path: Path
) -> None:
    config = ServeConfig(models=serve_config.models, workers=2)
    config_file = tmp_path / "config.json"
    config_file.write_text(config.to_json(), encoding="utf-8")
    port = free_port()
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from kubeline.serving import ServeConfig, run_server
        config = ServeConfig.from_json(Path({str(config_file)!r}).read_text())
        run_server(config, host="127.0.0.1", port={port}, log_level="warning")
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    temp = tmp_path / "temp"  # where run_server makes its metrics folder: read below
    temp.mkdir()
    env["TMPDIR"] = str(temp)
    log = tmp_path / "server.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", script], stdout=out, stderr=subprocess.STDOUT, env=env
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, process)
        expected = models.iris.model.predict(np.array(IRIS_ROWS)).tolist()
        v2_payload = {
            "inputs": [{"name": "input-0", "shape": [2, 4], "datatype": "FP32", "data": IRIS_ROWS}]
        }
        # New connections until both workers have answered some (the kernel hands each
        # connection to one of them), at least 10 rounds, at most 300.
        rounds = 0
        with httpx.Client(base_url=url, timeout=60) as http:
            while rounds < 10 or (len(_answered_by_worker(temp)) < 2 and rounds < 300):
                with httpx.Client(base_url=url, timeout=60) as fresh:
                    v1 = fresh.post("/v1/models/iris:predict", json={"instances": IRIS_ROWS})
                    assert v1.json() == {"predictions": expected}
                    v2 = fresh.post("/v2/models/iris/infer", json=v2_payload)
                    assert v2.json()["outputs"][0]["data"] == expected
                rounds += 1
            answered = _answered_by_worker(temp)
            text = http.get("/metrics").text
        assert len(answered) == 2, f"only these workers answered: {answered}"
        assert sum(answered.values()) == 2 * rounds
        # Whichever worker answered the scrape, it counts every worker's requests.
        counts = {
            (labels["model"], labels["protocol"], labels["code"]): value
            for labels, value in metric_samples(text, "kubeline_serving_requests_total")
        }
        assert counts[("iris", "v1", "200")] == rounds
        assert counts[("iris", "v2", "200")] == rounds
    finally:
        if sys.platform == "win32":  # no SIGTERM to send: stop it the hard way
            process.terminate()
        else:
            process.send_signal(signal.SIGTERM)
        try:
            returncode = process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise
    if sys.platform != "win32":  # uvicorn stops its workers and exits cleanly on SIGTERM
        assert returncode == 0, log.read_text(errors="replace")


async def _asgi_app(scope: dict, receive: object, send: object) -> None:
    pass


def test_connections_get_tcp_nodelay_whatever_bound_the_socket() -> None:
    """uvicorn's multi-worker socket has proto 0, so asyncio leaves Nagle on: our protocol
    sets TCP_NODELAY itself (without it, each response waits ~40 ms for a delayed ACK)."""
    import socket
    from unittest import mock

    import uvicorn
    from uvicorn.server import ServerState

    from kubeline.serving.transport import PROTOCOL, NoDelayHTTPProtocol

    listener = socket.socket(family=socket.AF_INET)  # as uvicorn binds it for workers
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    client = socket.create_connection(listener.getsockname())
    accepted, _ = listener.accept()
    try:
        assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
        config = uvicorn.Config(app=_asgi_app, http=PROTOCOL)
        config.load()
        assert config.http_protocol_class is NoDelayHTTPProtocol

        async def connect() -> None:
            protocol = NoDelayHTTPProtocol(config=config, server_state=ServerState(), app_state={})
            transport = mock.Mock()
            transport.get_extra_info.side_effect = lambda name, default=None: (
                accepted if name == "socket" else default
            )
            protocol.connection_made(transport)

        asyncio.run(connect())
        assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    finally:
        for sock in (client, accepted, listener):
            sock.close()
