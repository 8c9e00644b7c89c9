"""Liveness and readiness probes for load balancers and orchestrators."""
from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Blueprint, Response, jsonify
from sqlalchemy.exc import SQLAlchemyError

from engagement.errors import DATABASE_RETRY_AFTER_SECONDS
from engagement.extensions import db

log = logging.getLogger("engagement.operations")
blp = Blueprint("operations", __name__)


@blp.get("/healthz")
def healthz() -> Response:
    """The process is up (no dependencies checked)."""
    return jsonify({"status": "ok"})


@blp.get("/readyz")
def readyz() -> tuple[Response, int] | Response:
    """Ready when the database answers; 503 otherwise, so the balancer routes elsewhere."""
    try:
        db.session.execute(sa.text("SELECT 1"))
    except SQLAlchemyError as exc:
        db.session.rollback()
        log.warning("readiness check failed: %s", exc.__class__.__name__)
        response = jsonify({"status": "unavailable", "database": "unreachable"})
        response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
        return response, 503
    return jsonify({"status": "ok", "database": "ok"})
