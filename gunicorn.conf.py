"""gunicorn settings for engagement (`make run` and production).

Environment: WEB_CONCURRENCY (worker processes: default 1 without REDIS_URL, 2 with it),
ENGAGEMENT_THREADS (threads per worker, default 8), ENGAGEMENT_BIND (default 127.0.0.1:8000),
GUNICORN_TIMEOUT (seconds, default 30), GUNICORN_ACCESS_LOG (set to enable the access log),
GUNICORN_CONTROL_SOCKET (a path: turns gunicorn's control socket on, off by default),
PROMETHEUS_MULTIPROC_DIR (with ENGAGEMENT_METRICS=true: where workers keep their series;
emptied at start, a private temporary directory when unset).

Without Redis, rate limits live in the worker's memory, so the default is one process
with threads: every request sees one budget, as documented. Several processes need
REDIS_URL to share their budgets (and a warning says so otherwise). Threads also keep
the service answering while a few slow clients hold a connection each; production still
belongs behind a buffering proxy (docs/proxy.md).
"""
import os
import shutil
import tempfile
from pathlib import Path

metrics_on = os.environ.get("ENGAGEMENT_METRICS", "").strip().lower() in {"1", "true", "yes", "on"}
_METRICS_MASTER = "ENGAGEMENT_METRICS_MASTER_PID"  # the master that prepared PROMETHEUS_MULTIPROC_DIR
_PRIVATE_METRICS_DIR = "ENGAGEMENT_PRIVATE_METRICS_DIR"  # that directory, when it is a temporary one


def _prepare_metrics_directory():
    """Point PROMETHEUS_MULTIPROC_DIR at an empty directory shared by this server's workers.

    prometheus_client decides when first imported whether it keeps values there (a file
    per worker, added up by a scrape), and gunicorn imports engagement (logger_class)
    before any hook runs: so this runs while the configuration is read, once per master.
    Files of an earlier run would be added in: they go.
    """
    if os.environ.get(_METRICS_MASTER) == str(os.getpid()):
        return  # the configuration is read again (SIGHUP): the workers use the directory already
    configured = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if configured:
        directory = Path(configured)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):
            stale.unlink()
    else:
        private = tempfile.mkdtemp(prefix="engagement-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = os.environ[_PRIVATE_METRICS_DIR] = private
    os.environ[_METRICS_MASTER] = str(os.getpid())


if metrics_on:
    _prepare_metrics_directory()

shared_limits = bool(os.environ.get("REDIS_URL"))
bind = os.environ.get("ENGAGEMENT_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2" if shared_limits else "1"))
worker_class = "gthread"
threads = int(os.environ.get("ENGAGEMENT_THREADS", "8"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then so slow leaks cannot grow without bound; not the only
# worker of a server whose rate limits live in its memory (a recycle would reset them).
max_requests = 20000 if shared_limits or workers > 1 else 0
max_requests_jitter = 2000


def on_starting(server):  # gunicorn hook, in the master process
    if metrics_on:
        server.log.info("metrics: worker series in %s", os.environ["PROMETHEUS_MULTIPROC_DIR"])
    # A bad setting stops the server before any worker starts, in one line (no traceback).
    from engagement import check_configuration
    from engagement.config import ConfigurationError

    try:
        check_configuration()
    except ConfigurationError as error:
        server.log.error("engagement: configuration error: %s", error)
        raise SystemExit(1) from None
    limits_on = os.environ.get("ENGAGEMENT_RATELIMIT_ENABLED", "true").strip().lower() not in {"0", "false", "no", "off"}
    if workers > 1 and not shared_limits and limits_on:
        server.log.warning(
            "%d worker processes without REDIS_URL: each keeps its own rate-limit budgets, so limits are "
            "up to %d times the documented ones. Set REDIS_URL, or WEB_CONCURRENCY=1.", workers, workers
        )
# gunicorn's control socket (gunicornc) would default to ~/.gunicorn/gunicorn.ctl, one path
# for every instance on the host: a second start that fails removes the running one's.
# Off unless GUNICORN_CONTROL_SOCKET gives this instance a path of its own.
control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", "")
control_socket_disable = not control_socket
# The app logs one JSON line per request itself; gunicorn's access log is opt-in.
accesslog = "-" if os.environ.get("GUNICORN_ACCESS_LOG") else None
# No client address (%(h)s) and no query string: method, path, status, size, duration.
access_log_format = '{"method": "%(m)s", "path": "%(U)s", "status": %(s)s, "bytes": "%(B)s", "duration_ms": %(M)s}'
errorlog = "-"
loglevel = "info"
# gunicorn's own lines (e.g. "Invalid request from ip=...") would carry client addresses.
logger_class = "engagement.serverlog.AddressScrubbingLogger"


def post_worker_init(worker):  # gunicorn hook, in each worker
    # Requests gunicorn cannot parse get engagement's JSON error, not an HTML page.
    from engagement.serverlog import install_json_errors

    install_json_errors()


def child_exit(server, worker):  # gunicorn hook, in the master process, after a worker exited
    if metrics_on:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def on_exit(server):  # gunicorn hook, in the master process
    private = os.environ.get(_PRIVATE_METRICS_DIR)
    if private:
        shutil.rmtree(private, ignore_errors=True)
