"""The server under hostile uploads (#11): how fast an alias bomb is refused, next to what
plain PyYAML does with the same text, and how fast ``/healthz`` answers while a large
upload is being parsed.

    .venv/bin/python bench/guard.py [--rows 25000] [--probes 200]

Runs on demand only, never in the tests. Progress goes to stderr, the table to stdout.
"""

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import httpx  # noqa: E402 - after the path fix above
import yaml  # noqa: E402
from tests.live import free_port, serve_in_thread  # noqa: E402

from kubeline.engine.spec import parse_spec  # noqa: E402
from kubeline.errors import PipelineLoadError  # noqa: E402
from kubeline.server import ServerSettings, create_app  # noqa: E402


def alias_bomb(levels: int) -> str:
    text = "a0: &a0 [" + ",".join(['"lol"'] * 9) + "]\n"
    for level in range(1, levels + 1):
        text += f"a{level}: &a{level} [" + ",".join([f"*a{level - 1}"] * 9) + "]\n"
    return text


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def bomb_rows() -> list[tuple[str, str, str]]:
    """(case, kubeline, plain PyYAML) for bombs of 7 and 9 levels."""
    rows = []
    for levels in (7, 9):
        text = alias_bomb(levels)
        start = time.perf_counter()
        try:
            parse_spec(text)
            ours = "accepted?!"
        except PipelineLoadError:
            ours = f"refused in {(time.perf_counter() - start) * 1000:.2f} ms"
        if levels <= 7:  # 9 levels (387 million values) would not finish here
            _say(f"plain yaml.safe_load of a {levels}-level bomb...")
            start = time.perf_counter()
            # Aliases load as shared references; the expansion happens when the document
            # is stored or sent as JSON, as the server did before the limit.
            loaded = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
            stored = json.dumps(loaded)
            seconds = time.perf_counter() - start
            plain = f"loaded and stored as JSON in {seconds:.1f} s: {len(stored) / 2**20:.0f} MB"
        else:
            plain = f"{9**levels:,} values: not attempted"
        rows.append((f"{len(text):,}-byte bomb, {levels} levels", ours, plain))
    return rows


def healthz_rows(rows_in_upload: int, probes: int) -> list[tuple[str, str, str]]:
    home = Path(tempfile.mkdtemp(prefix="kubeline-bench-guard-"))
    url, server, thread = serve_in_thread(
        create_app(ServerSettings(home=home, port=free_port())), None
    )
    big = home / "big.yaml"
    lines = "\n".join(f"  k{i}: {list(range(40))}" for i in range(rows_in_upload))
    big.write_text("root:\n" + lines + "\npipelineInfo: {name: big}\n")
    size = big.stat().st_size

    def latencies(during_upload: bool) -> list[float]:
        done = threading.Event()
        upload_seconds: list[float] = []

        def upload() -> None:
            start = time.perf_counter()
            with big.open("rb") as f, httpx.Client(base_url=url, timeout=600) as http:
                http.post("/apis/v2beta1/pipelines/upload", files={"uploadfile": ("b.yaml", f)})
            upload_seconds.append(time.perf_counter() - start)
            done.set()

        if during_upload:
            threading.Thread(target=upload, daemon=True).start()
            time.sleep(0.5)  # the body is in; parsing has begun
        found = []
        with httpx.Client(base_url=url, timeout=60) as http:
            for _ in range(probes):
                if during_upload and done.is_set():
                    break
                start = time.perf_counter()
                http.get("/healthz")
                found.append((time.perf_counter() - start) * 1000)
                time.sleep(0.01)
        done.wait(600) if during_upload else None
        return found

    try:
        _say("healthz idle...")
        idle = latencies(False)
        _say(f"healthz during a {size / 2**20:.1f} MB upload...")
        busy = latencies(True)
    finally:
        server.should_exit = True
        thread.join(timeout=30)

    def fmt(values: list[float]) -> str:
        if not values:
            return "no answer"
        values = sorted(values)
        p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
        return f"p50 {statistics.median(values):.1f} ms, p99 {p99:.1f} ms (n={len(values)})"

    return [
        ("/healthz, idle server", fmt(idle), ""),
        (f"/healthz while a {size / 2**20:.1f} MB upload parses", fmt(busy), ""),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=25_000, help="rows of the large upload")
    parser.add_argument("--probes", type=int, default=200, help="/healthz requests per phase")
    args = parser.parse_args()
    rows = bomb_rows() + healthz_rows(args.rows, args.probes)
    print("| case | kubeline | plain PyYAML (no limit) |")
    print("| --- | --- | --- |")
    for case, ours, plain in rows:
        print(f"| {case} | {ours} | {plain} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
