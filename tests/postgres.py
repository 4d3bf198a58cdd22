"""A throwaway PostgreSQL server for the tests that run on every database (marker
``postgres``).

One server per pytest session: PostgreSQL's ``initdb`` + ``pg_ctl`` (Debian's newest under
/usr/lib/postgresql/<version>/bin, else PATH's, or ``$KUBELINE_POSTGRES_BIN``) make a
cluster in a fresh temp folder that listens on loopback only, on a free port, with its unix
socket in that folder. Both programs refuse to run as root, so as root they run as the
``postgres`` user, who owns the folder. The server is stopped and its folder removed when
the session ends (Ctrl-C too); a server a killed session left behind is stopped by the next
session. Each test gets its own database (:func:`postgres_url`), dropped after it, so tests
stay independent.

Where PostgreSQL (or the psycopg driver) is missing the tests skip, saying how to install
it; with ``KUBELINE_TEST_REQUIRE_ALL=1`` (CI) they fail instead.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.live import free_port
from tests.requirements import need

if TYPE_CHECKING:
    import pwd

__all__ = ["PostgresServer", "find_postgres_bin", "postgres_server", "postgres_url"]

INSTALL_HINT = (
    "install Debian's postgresql package (apt-get install postgresql; `python3 tasks.py test` "
    "does it) and the psycopg driver (pip install -e '.[dev]')"
)
#: Names the folder of initdb and pg_ctl where they are elsewhere (e.g. Homebrew's).
BIN_VARIABLE = "KUBELINE_POSTGRES_BIN"
# Temp folders of this module's servers: a later session finds and stops leftovers by it.
_PREFIX = "kubeline-pg-"
_SUPERUSER = "kubeline"


def find_postgres_bin() -> Path | None:
    """The folder of ``initdb`` and ``pg_ctl``: ``$KUBELINE_POSTGRES_BIN`` when set, else
    Debian's newest version, else PATH's."""
    chosen = os.environ.get(BIN_VARIABLE)
    if chosen:
        return Path(chosen) if (Path(chosen) / "initdb").is_file() else None

    def version(initdb: str) -> tuple[int, ...]:
        match = re.search(r"/postgresql/([\d.]+)/bin/", initdb)
        return tuple(int(part) for part in match.group(1).split(".")) if match else ()

    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=version)
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    return Path(on_path).resolve().parent if on_path else None


class PostgresServer:
    """A PostgreSQL cluster in a temp folder, run by this process, for tests only: trust
    authentication (loopback only), no fsync."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.folder = Path(tempfile.mkdtemp(prefix=_PREFIX))
        self.data = self.folder / "data"
        self.port = 0
        self._user = _run_as()
        if self._user is not None:  # initdb refuses root: the folder is postgres's
            os.chown(self.folder, self._user.pw_uid, self._user.pw_gid)
        (self.folder / "owner.pid").write_text(str(os.getpid()))

    def start(self) -> None:
        self._pg(
            "initdb",
            "--pgdata",
            str(self.data),
            "--username",
            _SUPERUSER,
            "--auth",
            "trust",
            "--encoding",
            "UTF8",
            "--no-locale",
            "--no-sync",
        )
        for attempt in range(5):  # a free port can be taken between the look and the bind
            self.port = free_port()
            options = " ".join(
                [
                    "-c listen_addresses=127.0.0.1",
                    f"-c port={self.port}",
                    f"-c unix_socket_directories={self.folder}",
                    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off",
                    "-c max_connections=300",
                ]
            )
            started = self._pg(
                "pg_ctl",
                "--pgdata",
                str(self.data),
                "--log",
                str(self.folder / "server.log"),
                "--options",
                options,
                "--wait",
                "--timeout",
                "60",
                "start",
                check=False,
            )
            if started.returncode == 0:
                return
            if attempt == 4:
                log = (self.folder / "server.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"PostgreSQL did not start:\n{started.stdout}\n{log}")

    def stop(self) -> None:
        """Stop the server (at once: nothing in it is kept) and remove its folder; a
        Ctrl-C meanwhile waits until that is done."""
        with _uninterrupted():
            self._stop()

    def _stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._pg(
                "pg_ctl", "--pgdata", str(self.data), "--mode", "immediate", "stop", check=False
            )
        shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{_SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def execute(self, sql: str) -> None:
        """Run one statement outside a transaction (CREATE / DROP DATABASE need that)."""
        import psycopg

        conninfo = f"host=127.0.0.1 port={self.port} user={_SUPERUSER} dbname=postgres"
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type]  # our own, fixed statements

    def create_database(self, name: str) -> None:
        """An empty database that sorts text as a server in an English locale would (ICU's
        en-US: "a" < "B"), not byte-wise like this test cluster's C locale: what the
        store's ordering must not depend on. Plain where ICU is missing (before 15)."""
        try:
            self.execute(
                f"CREATE DATABASE {name} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'"
            )
        except Exception:  # noqa: BLE001 - a server without ICU: its own default
            self.execute(f"CREATE DATABASE {name} TEMPLATE template0")

    def _pg(self, program: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin_dir / program), *args]
        if self._user is not None:
            command = ["runuser", "-u", self._user.pw_name, "--", *command]
        done = subprocess.run(
            command,
            cwd=self.folder,  # postgres may not be allowed into the caller's folder
            capture_output=True,
            text=True,
            timeout=120,
            # Not in our process group: a Ctrl-C reaches pytest, which then stops it.
            start_new_session=True,
            check=False,
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"{program} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
        return done


@contextlib.contextmanager
def _uninterrupted() -> Iterator[None]:
    """Hold SIGINT back (main thread) until the block ends; it is delivered then."""
    main = threading.current_thread() is threading.main_thread()
    if not main or not hasattr(signal, "pthread_sigmask"):  # Windows has no signal masks
        yield
        return
    before = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


def _run_as() -> pwd.struct_passwd | None:
    """The user to run PostgreSQL as: ``postgres`` when we are root, else ourselves."""
    if not _is_root():
        return None
    import pwd

    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        return None


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _stop_leftovers() -> None:
    """Stop the servers of sessions that were killed before they could stop them (POSIX:
    Windows' os.kill would end the process it asks about)."""
    if os.name == "nt":
        return
    for folder in Path(tempfile.gettempdir()).glob(f"{_PREFIX}*"):
        try:
            owner = int((folder / "owner.pid").read_text())
        except (OSError, ValueError):
            continue
        if _alive(owner):
            continue
        pid_file = folder / "data" / "postmaster.pid"
        with contextlib.suppress(OSError, ValueError, IndexError):
            os.kill(int(pid_file.read_text().splitlines()[0]), signal.SIGQUIT)  # immediate stop
        shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The session's PostgreSQL server (started on first use, stopped at the session's end)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        need("PostgreSQL's driver", "psycopg is not installed", INSTALL_HINT)
    bin_dir = find_postgres_bin()
    if bin_dir is None:
        where = os.environ.get(BIN_VARIABLE) or "/usr/lib/postgresql/*/bin or on PATH"
        need("PostgreSQL", f"no initdb in {where}", INSTALL_HINT)
    if _is_root() and _run_as() is None:
        need(
            "PostgreSQL",
            "initdb refuses to run as root and there is no postgres user",
            "run the tests as another user, or apt-get install postgresql (it adds the user)",
        )
    _stop_leftovers()
    server = PostgresServer(bin_dir)
    atexit.register(server.stop)  # if the session ends without its teardown
    previous = _stop_on_sigterm(server)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        atexit.unregister(server.stop)
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _stop_on_sigterm(server: PostgresServer) -> signal.Handlers | None:
    """A SIGTERM to pytest (a CI time-out) stops the server, then ends pytest as it would
    have; the handler it replaced (or None when it replaced none)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return None

    def on_sigterm(signum: int, frame: object) -> None:
        server.stop()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_sigterm)
    return signal.SIG_DFL


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """The URL of a new, empty database of its own, dropped after the test."""
    name = f"test_{uuid.uuid4().hex[:16]}"
    postgres_server.create_database(name)
    yield postgres_server.url(name)
    # WITH (FORCE): a connection a test left open (a server's pool) must not keep it.
    for attempt in range(3):
        try:
            postgres_server.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            return
        except Exception:  # noqa: BLE001 - one more try, then the session's end removes it
            time.sleep(0.5 * (attempt + 1))
