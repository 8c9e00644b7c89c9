"""The site's side of sign-on in tests: JWTs as a site's server signs them, and a JWKS
served by a real HTTP server on 127.0.0.1 whose keys can be rotated."""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from engagement.clock import utcnow
from tests.factories import reader_headers, sign_in

SITE_SECRET = "the-site-and-engagement-share-this-secret-0123456789-abcdefghijklmnop"
AUDIENCE = "comments.news.example"
# App settings (Flask config keys) of a service that takes the site's HS256 tokens.
SSO_SETTINGS = {"SSO_SECRET": SITE_SECRET, "SSO_AUDIENCE": AUDIENCE}


def site_claims(subject: str | None = "reader-42", **overrides: Any) -> dict[str, Any]:
    """The claims a site's server puts in its token: valid for ten minutes from now."""
    issued = utcnow()
    claims: dict[str, Any] = {
        "sub": subject, "name": "Ana Lima", "email": "ana@news.example", "avatar": "https://news.example/ana.png",
        "aud": AUDIENCE, "iat": int(issued.timestamp()), "exp": int((issued + timedelta(minutes=10)).timestamp()),
    }
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


def site_token(key: Any = SITE_SECRET, algorithm: str = "HS256", headers: dict[str, Any] | None = None, **claims: Any) -> str:
    return jwt.encode(site_claims(**claims), key, algorithm=algorithm, headers=headers)


def signed_in_headers(client: Any, subject: str = "reader-42", **claims: Any) -> dict[str, str]:
    """The X-Reader-Token header of the site's account ``subject``, signed in through the API."""
    return reader_headers(sign_in(client, site_token(sub=subject, **claims))["reader_token"])


@dataclass
class SigningKey:
    kid: str
    private: rsa.RSAPrivateKey

    @classmethod
    def generate(cls, kid: str) -> "SigningKey":
        return cls(kid, rsa.generate_private_key(public_exponent=65537, key_size=2048))

    def jwk(self) -> dict[str, Any]:
        return {**RSAAlgorithm.to_jwk(self.private.public_key(), as_dict=True), "kid": self.kid, "use": "sig", "alg": "RS256"}

    def token(self, **claims: Any) -> str:
        return site_token(self.private, "RS256", headers={"kid": self.kid}, **claims)


class JwksServer:
    """Serves ``/jwks.json`` on 127.0.0.1 with the keys it currently holds; counts fetches."""

    def __init__(self, *keys: SigningKey):
        self.keys = list(keys)
        self.fetches = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                server.fetches += 1
                body = json.dumps({"keys": [key.jwk() for key in server.keys]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._http.server_address[1]}/jwks.json"
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    def __enter__(self) -> "JwksServer":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._http.shutdown()
        self._http.server_close()
