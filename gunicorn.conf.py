"""gunicorn settings for engagement (`make run` and production).

Environment: WEB_CONCURRENCY (workers, default 2), ENGAGEMENT_BIND (default 127.0.0.1:8000),
GUNICORN_TIMEOUT (seconds, default 30), GUNICORN_ACCESS_LOG (set to enable the access log).
"""
import os

bind = os.environ.get("ENGAGEMENT_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "sync"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then so slow leaks cannot grow without bound.
max_requests = 20000
max_requests_jitter = 2000
# The app logs one JSON line per request itself; gunicorn's access log is opt-in.
accesslog = "-" if os.environ.get("GUNICORN_ACCESS_LOG") else None
# No client address (%(h)s) and no query string: method, path, status, size, duration.
access_log_format = '{"method": "%(m)s", "path": "%(U)s", "status": %(s)s, "bytes": "%(B)s", "duration_ms": %(M)s}'
errorlog = "-"
loglevel = "info"
