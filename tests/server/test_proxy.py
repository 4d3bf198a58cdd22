"""kubeline server behind a real TLS reverse proxy (Debian's nginx on loopback, #11).

The browser's Origin is then ``https://...`` while the server itself speaks plain HTTP:
writes from the UI must work when the proxy is trusted (``--trusted-proxy``), and only
then; X-Forwarded-* headers from anyone else are never believed.
"""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.live import free_port
from tests.requirements import need
from tests.server.conftest import LiveServer, start_server

NGINX = Path(os.environ.get("KUBELINE_NGINX", "/usr/sbin/nginx"))
API = "/apis/v2beta1"


def _certificate(folder: Path) -> tuple[Path, Path]:
    """A throwaway self-signed certificate for ``localhost``."""
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    return key, cert


def _config(folder: Path, listen: int, upstream: str, key: Path, cert: Path) -> Path:
    temp = folder / "temp"
    temp.mkdir()
    user = "user root;\n" if hasattr(os, "geteuid") and os.geteuid() == 0 else ""
    conf = folder / "nginx.conf"
    conf.write_text(
        f"""{user}worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {temp}/body;
  proxy_temp_path {temp}/proxy;
  fastcgi_temp_path {temp}/fastcgi;
  uwsgi_temp_path {temp}/uwsgi;
  scgi_temp_path {temp}/scgi;
  client_max_body_size 40m;
  server {{
    listen 127.0.0.1:{listen} ssl;
    server_name localhost;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    location / {{
      proxy_pass {upstream};
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_buffering off;
    }}
  }}
}}
"""
    )
    return conf


@contextmanager
def _nginx_in_front(server: LiveServer, folder: Path) -> Iterator[str]:
    if not NGINX.is_file():
        need("nginx", f"no nginx at {NGINX}", "apt-get install nginx (python3 tasks.py test does)")
    if shutil.which("openssl") is None:
        need("openssl", "none on PATH to make the proxy's certificate", "apt-get install openssl")
    key, cert = _certificate(folder)
    port = free_port()
    conf = _config(folder, port, server.url, key, cert)
    process = subprocess.Popen(
        [str(NGINX), "-p", str(folder), "-c", str(conf), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"https://localhost:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/healthz", verify=_trust(folder), timeout=5).is_success:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nginx did not start: {process.stderr.read().decode()}")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def _trust(folder: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(folder / "cert.pem"))


@pytest.fixture
def cert_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "nginx"
    folder.mkdir()
    return folder


def _browser_write(http: httpx.Client, origin: str, name: str) -> httpx.Response:
    """What a page of the UI sends when it creates an experiment."""
    return http.post(
        f"{API}/experiments",
        json={"display_name": name},
        headers={"Origin": origin, "Sec-Fetch-Site": "same-origin"},
    )


def test_behind_a_trusted_tls_proxy_the_ui_can_write(
    kubeline_home: Path, cert_folder: Path
) -> None:
    server = start_server(kubeline_home, trusted_proxies=("127.0.0.1",))
    try:
        with _nginx_in_front(server, cert_folder) as url:
            with httpx.Client(base_url=url, verify=_trust(cert_folder), timeout=30) as http:
                assert http.get("/runs").status_code == 200
                written = _browser_write(http, url, "through-the-proxy")
                assert written.status_code == 200, written.text
                # Another origin is still another origin behind the proxy.
                refused = _browser_write(http, "https://evil.example", "nope")
                assert refused.status_code == 403
                refused_port = _browser_write(http, url.replace("localhost", "localhost.evil"), "x")
                assert refused_port.status_code == 403
            names = {
                e["display_name"]
                for e in server.http().get(f"{API}/experiments").json()["experiments"]
            }
            assert names == {"Default", "through-the-proxy"}
    finally:
        server.stop()


def test_forwarded_headers_are_not_believed_unless_the_proxy_is_trusted(
    kubeline_home: Path, cert_folder: Path
) -> None:
    server = start_server(kubeline_home)  # no --trusted-proxy
    try:
        with _nginx_in_front(server, cert_folder) as url:
            with httpx.Client(base_url=url, verify=_trust(cert_folder), timeout=30) as http:
                assert http.get(f"{API}/experiments").is_success  # reads pass
                refused = _browser_write(http, url, "https-origin")
                assert refused.status_code == 403
                assert "--trusted-proxy" in refused.json()["message"]
            # Straight to the server: a forged X-Forwarded-Host cannot smuggle a foreign name
            # past the Host check, nor a forged proto make an https origin "own".
            with server.http() as direct:
                forged = direct.get(
                    f"{API}/experiments",
                    headers={"Host": "evil.example", "X-Forwarded-Host": "localhost"},
                )
                assert forged.status_code == 403
                forged_write = direct.post(
                    f"{API}/experiments",
                    json={"display_name": "forged"},
                    headers={"Origin": f"https://{direct.base_url.host}:{direct.base_url.port}",
                             "X-Forwarded-Proto": "https"},
                )  # fmt: skip
                assert forged_write.status_code == 403
    finally:
        server.stop()
