"""Cross-origin access to the public API (CORS).

The policy is small and fixed (see docs/api.md, "CORS"): the configured origins, the
methods the API has, the three request headers a reader's page sends and the two
response headers it reads. So every header is worked out once, when the app starts,
and a response gains a prepared list: reading the policy per request, as a general
CORS extension does, cost a public read about 8 % of its time (docs/scaling.md).

Public means everything under ``/api/v1/`` except the moderation API and the API
reference page: those send no CORS headers at all, so no page on another site can
call them from a browser.
"""
from __future__ import annotations

from collections.abc import Iterable

from flask import Flask, Response, request

from engagement.config import comparable_origin

API_PREFIX = "/api/v1/"
# Under API_PREFIX, the paths (and the trees below them) that are not public.
PRIVATE_PATHS = ("mod", "docs")
ALLOWED_METHODS = ("DELETE", "GET", "OPTIONS", "PATCH", "POST", "PUT")
ALLOWED_REQUEST_HEADERS = ("Content-Type", "X-Edit-Token", "X-Reader-Token")
EXPOSED_RESPONSE_HEADERS = ("ETag", "Retry-After")
PREFLIGHT_MAX_AGE_SECONDS = 86400
# Origins are short (scheme, host, port); a longer header cannot be a configured one.
MAX_ORIGIN_LENGTH = 300

Headers = list[tuple[str, str]]


def is_public(path: str) -> bool:
    """Whether a request to ``path`` may be answered to other origins."""
    if not path.startswith(API_PREFIX):
        return False
    first = path[len(API_PREFIX):].partition("/")[0]
    return first not in PRIVATE_PATHS


class CorsPolicy:
    """The CORS headers of public responses, from the allowed origins (``*``: any origin).

    With ``*`` every public response says ``Access-Control-Allow-Origin: *`` (the API
    takes no credentials, so any page may read it, and a shared cache keeps one copy).
    With a list, a listed ``Origin`` (compared as page naming compares it,
    ``config.comparable_origin``: any case, a trailing ``/`` ignored) is echoed and any
    other gets no CORS headers; every public response then says ``Vary: Origin``, so a
    shared cache never hands one origin's answer to another.
    """

    def __init__(self, origins: Iterable[str]):
        origins = [origin.strip() for origin in origins if origin.strip()]
        self.any_origin = "*" in origins
        self._allowed = frozenset(comparable_origin(origin) for origin in origins)
        exposed = ("Access-Control-Expose-Headers", ", ".join(EXPOSED_RESPONSE_HEADERS))
        self._any_origin_headers: Headers = [("Access-Control-Allow-Origin", "*"), exposed]
        self._exposed = exposed
        self._preflight: Headers = [
            ("Access-Control-Allow-Methods", ", ".join(ALLOWED_METHODS)),
            ("Access-Control-Allow-Headers", ", ".join(ALLOWED_REQUEST_HEADERS)),
            ("Access-Control-Max-Age", str(PREFLIGHT_MAX_AGE_SECONDS)),
        ]
        self._vary: Headers = [("Vary", "Origin")]

    def headers(self, origin: str | None, preflight_method: str | None = None) -> Headers:
        """The headers for a request from ``origin`` (its ``Origin`` header, if any).

        ``preflight_method`` is a preflight's ``Access-Control-Request-Method``: when it
        names an allowed method, the answer also lists the methods and request headers
        allowed, and how long a browser may keep that answer.
        """
        if self.any_origin:
            allowed: Headers = self._any_origin_headers
        elif origin and len(origin) <= MAX_ORIGIN_LENGTH and comparable_origin(origin) in self._allowed:
            allowed = [("Access-Control-Allow-Origin", origin), self._exposed, *self._vary]
        else:
            return self._vary
        if preflight_method is not None and preflight_method.upper() in ALLOWED_METHODS:
            return [*allowed, *self._preflight]
        return allowed


def install_cors(app: Flask, origins: Iterable[str]) -> None:
    """Add the CORS headers of ``origins``' policy to every public response, errors included."""
    policy = CorsPolicy(origins)

    @app.after_request
    def _cors_headers(response: Response) -> Response:
        if is_public(request.path):
            environ = request.environ
            preflight = environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD") if request.method == "OPTIONS" else None
            response.headers.extend(policy.headers(environ.get("HTTP_ORIGIN"), preflight))
        return response
