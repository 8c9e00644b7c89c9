"""GET /metrics for Prometheus, and the hooks that record each request (engagement.metrics).

Installed only with ENGAGEMENT_METRICS=true. Otherwise there is no route (a 404 like any
unknown path) and no hook: requests cost nothing extra. Like /healthz it lives outside
/api/v1: not in the OpenAPI document, no CORS headers, no reader rate limits. Only client
addresses in ENGAGEMENT_METRICS_ALLOW, or requests bearing ENGAGEMENT_METRICS_TOKEN, may
scrape; anyone else gets 403.
"""
from __future__ import annotations

import time

from flask import Blueprint, Flask, Response, current_app, g, request
from flask_limiter.errors import RateLimitExceeded

from engagement import metrics
from engagement.api.ratelimits import RATE_LIMIT_ATTRIBUTE
from engagement.errors import (
    HTTP_ERROR_CODES,
    DomainError,
    Forbidden,
    RateLimited,
    handle_domain_error,
    handle_http_exception,
)

blp = Blueprint("metrics", __name__)

# Endpoints whose outcome has a series of its own (see note_outcome in the routes).
COMMENT_POST = "comments.post_comment"
VIEW_BEACON = "articles.record_view"


@blp.get("/metrics")
def scrape() -> Response:
    """The series of every worker, in the Prometheus text format (or OpenMetrics on request)."""
    exporter = metrics.exporter()
    if not exporter.access.allows(_scraper_address(), request.headers.get("Authorization")):
        raise Forbidden("Metrics are for the monitoring hosts only.")
    body, content_type = exporter.render(request.headers.get("Accept"))
    return Response(body, content_type=content_type, headers={"Cache-Control": "no-store"})


def _scraper_address() -> str | None:
    """The client address, or None when a proxy the app does not trust forwarded the request.

    With ENGAGEMENT_TRUSTED_PROXIES=0 the address of a forwarded request is the proxy's,
    often loopback: it must not let every client of the proxy in.
    """
    forwarded = "X-Forwarded-For" in request.headers or "Forwarded" in request.headers
    if forwarded and not current_app.config["TRUSTED_PROXIES"]:
        return None
    return request.remote_addr


def install_metrics(app: Flask) -> None:
    """With METRICS_ENABLED: the route, the request hooks and the refusal counters; else nothing."""
    if not app.config["METRICS_ENABLED"]:
        return
    metrics.install(app, app.extensions.get("engagement.view_counter"))
    app.register_blueprint(blp)
    error_codes = _error_codes()

    def start_clock() -> None:
        g.metrics_started = time.perf_counter()

    def count_request(response: Response) -> Response:
        seconds = time.perf_counter() - g.metrics_started
        rule = request.url_rule
        if rule is None:
            metrics.observe_request(metrics.UNMATCHED, request.method, response.status_code, seconds)
            return response
        metrics.observe_request(rule.rule, request.method, response.status_code, seconds)
        if rule.endpoint in (COMMENT_POST, VIEW_BEACON):
            _count_outcome(rule.endpoint, response, error_codes)
        return response

    # First before and last after every other hook, so refusals by the guards are timed
    # too and the status counted is the one sent (after hooks run in reverse order).
    app.before_request_funcs.setdefault(None, []).insert(0, start_clock)
    app.after_request_funcs.setdefault(None, []).insert(0, count_request)
    # Only refusals pass through these: the limiter's (per reader and per address) ...
    app.register_error_handler(RateLimitExceeded, _limiter_refused)
    # ... and the budgets of one address on one target (services.budgets).
    app.register_error_handler(RateLimited, _budget_refused)


def _count_outcome(endpoint: str, response: Response, error_codes: frozenset[str]) -> None:
    """The series of a comment post or a view beacon, once its response is final."""
    status = response.status_code
    if endpoint == COMMENT_POST:
        if status == 201:
            metrics.comment_posted(metrics.noted_outcome() or metrics.OTHER)
        elif status >= 400:
            code = _error_code(response)
            metrics.comment_refused(code if code in error_codes else metrics.OTHER)
    elif status == 202:
        metrics.view_beacon(metrics.noted_outcome() or metrics.OTHER)


def _limiter_refused(error: RateLimitExceeded) -> Response:
    scope = error.limit.scope
    metrics.rate_limited(scope if isinstance(scope, str) else metrics.OTHER)
    return handle_http_exception(error)


def _budget_refused(error: RateLimited) -> Response:
    action = getattr(current_app.view_functions.get(request.endpoint or ""), RATE_LIMIT_ATTRIBUTE, None)
    metrics.rate_limited(f"{action}:target" if action else metrics.OTHER)
    return handle_domain_error(error)


def _error_code(response: Response) -> str | None:
    """The code of the app's JSON error envelope (engagement.errors), if it is one."""
    body = response.get_json(silent=True)
    error = body.get("error") if isinstance(body, dict) else None
    return error.get("code") if isinstance(error, dict) else None


def _error_codes() -> frozenset[str]:
    """Every code the app's error envelope can carry: the label values of refusals."""
    codes = {code for code, _ in HTTP_ERROR_CODES.values()}
    pending = [DomainError]
    while pending:
        error_class = pending.pop()
        codes.add(error_class.code)
        pending.extend(error_class.__subclasses__())
    return frozenset(codes)
