"""Helpers every blueprint uses: the request transaction, the reader, settings, the clock."""
from __future__ import annotations

import contextlib
import functools
import threading
from collections import OrderedDict
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable, TypeVar, cast

from flask import current_app, g, request
from flask_smorest import Blueprint
from marshmallow import Schema
from sqlalchemy.engine import Connection
from webargs import core
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import BadRequest
from werkzeug.routing import BaseConverter

from engagement.clock import utcnow
from engagement.config import Settings
from engagement.errors import NotFound, SignInRequired, Unauthorized
from engagement.extensions import (
    READ_METHODS,
    db,
    finish_request_transaction,
    request_connection,
    standalone_statements,
)
from engagement.privacy import Keyring, ReaderIdentity
from engagement.schemas.common import ARTICLE_KEY_PATTERN, ARTICLE_KEY_REGEX, RepeatableQuerySchema
from engagement.services.hot_views import ViewCounter
from engagement.services.statements import Database

if TYPE_CHECKING:
    from engagement.services.sso_tokens import TokenVerifier

READER_TOKEN_HEADER = "X-Reader-Token"
EDIT_TOKEN_HEADER = "X-Edit-Token"
# The readers' credentials, as OpenAPI security schemes (the moderators' is in auth.py).
READER_SCHEME = "readerToken"
EDIT_SCHEME = "editToken"
READER_SECURITY_SCHEMES = {
    READER_SCHEME: {
        "type": "apiKey", "in": "header", "name": READER_TOKEN_HEADER,
        "description": "Optional. An anonymous reader token from `POST /api/v1/readers`, or a signed-in one from "
                       "`POST /api/v1/readers/sso`; without it the reader is known by a keyed hash of address and "
                       "browser. One that does not verify (or whose sign-in expired) gets 401.",
    },
    EDIT_SCHEME: {
        "type": "apiKey", "in": "header", "name": EDIT_TOKEN_HEADER,
        "description": "The `edit_token` returned once when the comment was posted; valid during the edit window.",
    },
}

View = TypeVar("View", bound=Callable[..., Any])

# Parsed query strings kept per worker (EngagementParser), and the longest query kept: a
# thread page's or trending's query fits (a cursor included); a counts list of more than
# a few keys does not, since keeping hundreds of lists of keys cost the counts that
# missed more than the ones that hit saved (the lists vary far more than pages do).
KEPT_QUERY_PARSES = 256
MAX_KEPT_QUERY_BYTES = 256


class ArticleKeyConverter(BaseConverter):
    """The site's article key: 1-200 of A-Z a-z 0-9 . _ : - starting with a letter or digit."""

    regex = ARTICLE_KEY_REGEX
    pattern = ARTICLE_KEY_PATTERN


class IdConverter(BaseConverter):
    """A numeric id. Out-of-range ids still match, so they get 404 rather than 405."""

    regex = r"[0-9]{1,12}"
    part_isolating = True

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


class EngagementParser(FlaskParser):
    """webargs' Flask parser, with two differences.

    A route whose JSON body has required fields refuses an empty or absent body as
    malformed (400), not as a missing field (422): the client sent no JSON document at
    all. Bodies of optional fields (the view beacon's) may still be left out.

    The query strings of the reads every page load makes repeat (every reader of a
    thread asks for the same page): for a ``RepeatableQuerySchema`` the parsed result of
    a short query string is kept, a bounded few per worker, and a repeat is answered
    from it instead of loading the schema again. Errors are never kept: a query that
    does not validate is parsed, and refused, each time.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._query_parses: OrderedDict[tuple[Schema, bytes], dict[str, Any]] = OrderedDict()
        self._query_parses_lock = threading.Lock()

    def parse(self, argmap: Any, req: Any = None, *, location: str | None = None, **kwargs: Any) -> Any:
        if location != "query" or not isinstance(argmap, RepeatableQuerySchema) or kwargs.get("validate"):
            return super().parse(argmap, req, location=location, **kwargs)
        query = (req or request).query_string
        if len(query) > MAX_KEPT_QUERY_BYTES:
            return super().parse(argmap, req, location=location, **kwargs)
        key = (argmap, query)
        with self._query_parses_lock:
            kept = self._query_parses.get(key)
            if kept is not None:
                self._query_parses.move_to_end(key)
        if kept is None:
            kept = super().parse(argmap, req, location=location, **kwargs)
            with self._query_parses_lock:
                self._query_parses[key] = kept
                if len(self._query_parses) > KEPT_QUERY_PARSES:
                    self._query_parses.popitem(last=False)
        # A copy, lists included: a view may change what it was given.
        return {name: list(value) if isinstance(value, list) else value for name, value in kept.items()}

    def load_json(self, req: Any, schema: Schema) -> Any:
        data = super().load_json(req, schema)
        if data is core.missing and any(field.required for field in schema.fields.values()):
            raise BadRequest("Send the body as a JSON object.")
        return data


class EngagementBlueprint(Blueprint):
    """flask-smorest's Blueprint with engagement's argument parser."""

    ARGUMENTS_PARSER = EngagementParser()

    def for_the_reader(self) -> Callable[[View], View]:
        """Document a route that acts as the reader: an X-Reader-Token is welcome, not required."""
        return cast(Callable[[View], View], self.doc(security=[{}, {READER_SCHEME: []}]))

    def for_the_token_holder(self) -> Callable[[View], View]:
        """Document a route that needs an X-Reader-Token: without one, readers cannot be told apart."""
        return cast(Callable[[View], View], self.doc(security=[{READER_SCHEME: []}]))

    def for_the_author(self) -> Callable[[View], View]:
        """Document a route only the comment's author may use: the X-Edit-Token (and a reader token, if any)."""
        return cast(Callable[[View], View], self.doc(security=[{EDIT_SCHEME: []}, {EDIT_SCHEME: [], READER_SCHEME: []}]))


WRITE_LOCK = "engagement.sqlite_write_lock"
WAL_CHECKPOINTER = "engagement.wal_checkpointer"


def transactional(view: View) -> View:
    """Run the view as one unit of work: commit when it returns, roll back when it raises.

    The unit is the request's connection (``writes``) and its session, if the view used one.

    On SQLite, where only one writer proceeds at a time anyway, the threads of a process
    take turns on a lock instead of SQLite's busy handler, whose sleeps of up to 100 ms
    would otherwise make the slowest writes many times slower than the median. A
    worker's first write also starts its background WAL checkpointer (``extensions.wal_checkpointer``):
    in the serving process, never in one that only runs a command.
    """

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        extensions = current_app.extensions
        checkpointer = extensions.get(WAL_CHECKPOINTER)
        if checkpointer is not None:
            checkpointer.ensure_started()
        with extensions.get(WRITE_LOCK) or contextlib.nullcontext():
            try:
                result = view(*args, **kwargs)
                finish_request_transaction(commit=True)
            except BaseException:
                finish_request_transaction(commit=False)
                raise
        return result

    return cast(View, wrapper)


def single_statement_writes(view: View) -> View:
    """``transactional`` for a view whose every write is one statement that stands alone
    (each whole and consistent by itself, as the database's triggers keep a reaction's
    bookkeeping): on PostgreSQL each statement commits by itself, so the rows a write
    locks are free again when it returns (``extensions.standalone_statements``); a
    session, or SQLite's transaction, is still committed or rolled back as a whole."""
    unit = transactional(view)

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        standalone_statements()
        return unit(*args, **kwargs)

    return cast(View, wrapper)


def writes() -> Connection:
    """Where a write that needs no ORM object runs its statements: the request's
    connection, in the request's transaction (``transactional`` commits it), or on
    PostgreSQL statement by statement under ``single_statement_writes``. No session is
    created for it; a session the request does use joins the same transaction."""
    return request_connection()


def reads() -> Database:
    """Where a public read runs statements that need no ORM object: the request's own
    connection in a GET or HEAD (no session is created for them), else the session."""
    return request_connection() if request.method in READ_METHODS else db.session


def settings() -> Settings:
    return cast(Settings, current_app.extensions["engagement.settings"])


def keyring() -> Keyring:
    return cast(Keyring, current_app.extensions["engagement.keyring"])


def view_counter() -> ViewCounter | None:
    """This request's Redis view counter, or None without REDIS_URL (views are counted in SQL).

    One per request, so the validator and the service share one Redis read of the same keys.
    """
    counter = current_app.extensions.get("engagement.view_counter")
    if counter is None:
        return None
    if "view_counter" not in g:
        g.view_counter = counter.for_request()
    return cast(ViewCounter, g.view_counter)


def now() -> datetime:
    """The request's notion of now (``engagement.clock``, so tests can move it)."""
    return utcnow()


def current_reader() -> ReaderIdentity:
    """The reader behind this request (verified token, else address + user agent hash).

    Raises Unauthorized when an X-Reader-Token header is present but does not verify.
    """
    if "reader" not in g:
        token = (request.headers.get(READER_TOKEN_HEADER) or "").strip() or None
        identity = keyring().identify(
            token=token,
            address=request.remote_addr or "",
            user_agent=request.headers.get("User-Agent", ""),
            now=now(),
        )
        if identity is None:
            raise Unauthorized("The reader token does not verify. Request a new one.")
        g.reader = identity
    return cast(ReaderIdentity, g.reader)


def participant() -> ReaderIdentity:
    """The reader about to post, vote, react or flag.

    Raises SignInRequired when ENGAGEMENT_SSO_REQUIRED is on and the reader has not
    signed in with the site's account; Unauthorized as ``current_reader`` does.
    """
    reader = current_reader()
    if settings().sso_required and not reader.signed_in:
        raise SignInRequired()
    return reader


def sso_verifier() -> TokenVerifier:
    """The site's sign-on token verifier. Raises NotFound when sign-on is not configured."""
    verifier = current_app.extensions.get("engagement.sso")
    if verifier is None:
        raise NotFound("Sign-on with the site's accounts is not configured here.")
    return cast("TokenVerifier", verifier)


def edit_token() -> str | None:
    return request.headers.get(EDIT_TOKEN_HEADER)
