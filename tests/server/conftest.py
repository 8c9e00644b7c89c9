"""A real server for concurrency tests: gunicorn with 4 workers on a free 127.0.0.1 port.

Runs against a freshly migrated SQLite file, and against a fresh PostgreSQL database
(created beside the one in DATABASE_URL and dropped afterwards) when DATABASE_URL
points at PostgreSQL.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from engagement.config import _database_uri
from engagement.models import Base
from tests.conftest import TEST_SECRET_KEY

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
WORKERS = 4
STARTUP_SECONDS = 30
COMMAND_TIMEOUT_SECONDS = 120
CLIENT_TIMEOUT_SECONDS = 5  # generous: an idle server answers /healthz in milliseconds


@dataclass(frozen=True)
class LiveServer:
    base_url: str
    backend: str
    secret_key: str
    database_url: str


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _postgres_url() -> str | None:
    configured = os.environ.get("DATABASE_URL")
    if not configured:
        return None
    url = _database_uri(configured, "")
    return url if url.startswith("postgresql") else None


def _recreate_postgres_database(url: sa.URL, *, drop_only: bool = False) -> None:
    maintenance = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with maintenance.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
            if not drop_only:
                connection.execute(sa.text(f'CREATE DATABASE "{url.database}"'))
    finally:
        maintenance.dispose()


def _wait_until_ready(process: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(base_url + "/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not become ready in {STARTUP_SECONDS}s:\n{log.read_text()[-4000:]}")


def http_status(url: str, *, method: str | None = None, body: object = None,
                agent: str = "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0") -> int:
    """The status a real server answers (a JSON body is sent when ``body`` is given)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method or ("GET" if data is None else "POST"))
    request.add_header("User-Agent", agent)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=CLIENT_TIMEOUT_SECONDS) as response:
            return response.status
    except urllib.error.HTTPError as error:
        error.close()
        return error.code


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _empty_database(workdir: Path, backend: str, request: pytest.FixtureRequest, *, suffix: str) -> str:
    """The URL of an empty database: a SQLite file in ``workdir``, or a PostgreSQL database
    named ``<DATABASE_URL's database>_<suffix>``, created afresh and dropped when ``request``
    finishes (skips without a PostgreSQL DATABASE_URL). With one, the SQLite server is
    skipped: the pass without DATABASE_URL (``make test``) runs it, and twice is only slower."""
    configured = _postgres_url()
    if backend == "sqlite":
        if configured is not None:
            pytest.skip("the SQLite server runs in the pass without DATABASE_URL")
        return "sqlite:///" + str(workdir / "engagement.db")
    if configured is None:
        pytest.skip("DATABASE_URL does not point at PostgreSQL")
    base = sa.make_url(configured)
    postgres_url = base.set(database=f"{base.database}_{suffix}")
    _recreate_postgres_database(postgres_url)
    request.addfinalizer(lambda: _recreate_postgres_database(postgres_url, drop_only=True))
    return postgres_url.render_as_string(hide_password=False)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def live_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """gunicorn serving the app with 4 workers on a fresh, migrated database."""
    backend = request.param
    workdir = tmp_path_factory.mktemp(f"server-{backend}")
    database_url = _empty_database(workdir, backend, request, suffix="server")

    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": TEST_SECRET_KEY,
        "ENGAGEMENT_RATELIMIT_ENABLED": "false",
        "ENGAGEMENT_INSTANCE_PATH": str(workdir / "instance"),
        "ENGAGEMENT_LOG_LEVEL": "WARNING",
        # With REDIS_URL (CI's second pass), views are flushed into SQL while beacons race.
        "ENGAGEMENT_VIEW_FLUSH_SECONDS": "0.05",
    }
    environment.pop("GUNICORN_ACCESS_LOG", None)
    subprocess.run(
        [str(BIN / "flask"), "--app", "wsgi", "db", "upgrade"],
        cwd=PROJECT_ROOT, env=environment, check=True, capture_output=True, timeout=COMMAND_TIMEOUT_SECONDS,
    )

    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    config = workdir / "gunicorn.conf.py"
    config.write_text("")  # only what the command line says: no project or user defaults
    log = workdir / "gunicorn.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                str(BIN / "gunicorn"), "--config", str(config),
                "--workers", str(WORKERS), "--bind", f"127.0.0.1:{port}",
                "--timeout", "30", "--graceful-timeout", "5", "wsgi:app",
            ],
            cwd=PROJECT_ROOT, env=environment, stdout=output, stderr=subprocess.STDOUT,
        )
    request.addfinalizer(lambda: _stop(process))
    _wait_until_ready(process, base_url, log)
    yield LiveServer(base_url=base_url, backend=backend, secret_key=TEST_SECRET_KEY, database_url=database_url)


@dataclass(frozen=True)
class ShippedServer:
    host: str
    port: int
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture(scope="module")
def shipped_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ShippedServer]:
    """gunicorn with the project's gunicorn.conf.py, on a free loopback port and a fresh SQLite file."""
    workdir = tmp_path_factory.mktemp("shipped-server")
    environment = {
        key: value for key, value in os.environ.items()
        # the shipped defaults, not whatever this shell or CI pass sets
        if key not in {
            "REDIS_URL", "WEB_CONCURRENCY", "ENGAGEMENT_THREADS", "GUNICORN_TIMEOUT", "GUNICORN_ACCESS_LOG",
            "GUNICORN_CONTROL_SOCKET", "XDG_RUNTIME_DIR",
        }
    }
    port = _free_port()
    (workdir / "home").mkdir()
    environment.update(
        HOME=str(workdir / "home"),  # where gunicorn would put its control socket by default
        DATABASE_URL="sqlite:///" + str(workdir / "engagement.db"),
        SECRET_KEY=TEST_SECRET_KEY,
        ENGAGEMENT_INSTANCE_PATH=str(workdir / "instance"),
        ENGAGEMENT_LOG_LEVEL="WARNING",
        ENGAGEMENT_BIND=f"127.0.0.1:{port}",
    )
    # The models' schema, not the migrations': those have their own tests.
    engine = sa.create_engine(environment["DATABASE_URL"])
    Base.metadata.create_all(engine)
    engine.dispose()
    log = workdir / "gunicorn.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(BIN / "gunicorn"), "--config", "gunicorn.conf.py", "wsgi:app"],
            cwd=PROJECT_ROOT, env=environment, stdout=output, stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_ready(process, f"http://127.0.0.1:{port}", log)
        yield ShippedServer(host="127.0.0.1", port=port, log=log)
    finally:
        _stop(process)


@dataclass(frozen=True)
class MetricsServer:
    base_url: str
    backend: str
    log: Path
    process: subprocess.Popen[bytes]

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


METRICS_WORKERS = 2


def start_metrics_server(workdir: Path, backend: str, database_url: str, **environ: str) -> MetricsServer:
    """gunicorn with the project's gunicorn.conf.py, two workers and ENGAGEMENT_METRICS=true,
    on a free loopback port and an existing schema; ``environ`` adds to its environment.
    The caller stops it (``_stop(server.process)``)."""
    environment = {
        key: value for key, value in os.environ.items()
        if key not in {"REDIS_URL", "ENGAGEMENT_THREADS", "GUNICORN_ACCESS_LOG", "PROMETHEUS_MULTIPROC_DIR"}
    }
    port = _free_port()
    environment.update(
        DATABASE_URL=database_url,
        SECRET_KEY=TEST_SECRET_KEY,
        ENGAGEMENT_INSTANCE_PATH=str(workdir / "instance"),
        ENGAGEMENT_LOG_LEVEL="WARNING",
        ENGAGEMENT_RATELIMIT_ENABLED="false",
        ENGAGEMENT_BIND=f"127.0.0.1:{port}",
        ENGAGEMENT_METRICS="true",
        WEB_CONCURRENCY=str(METRICS_WORKERS),
        **environ,
    )
    log = workdir / "gunicorn.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(BIN / "gunicorn"), "--config", "gunicorn.conf.py", "wsgi:app"],
            cwd=PROJECT_ROOT, env=environment, stdout=output, stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_ready(process, base_url, log)
    except BaseException:
        _stop(process)
        raise
    return MetricsServer(base_url=base_url, backend=backend, log=log, process=process)


def fresh_database(workdir: Path, backend: str, request: pytest.FixtureRequest) -> str:
    """A SQLite file in ``workdir``, or a PostgreSQL database created beside the one in
    DATABASE_URL (dropped when ``request`` finishes), with the models' schema."""
    database_url = _empty_database(workdir, backend, request, suffix="metrics_server")
    # The models' schema, not the migrations': those have their own tests.
    engine = sa.create_engine(database_url)
    Base.metadata.create_all(engine)
    engine.dispose()
    return database_url


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def metrics_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MetricsServer]:
    """``start_metrics_server`` on a fresh database: SQLite, and PostgreSQL when DATABASE_URL points at it."""
    workdir = tmp_path_factory.mktemp(f"metrics-server-{request.param}")
    server = start_metrics_server(workdir, request.param, fresh_database(workdir, request.param, request))
    try:
        yield server
    finally:
        _stop(server.process)
