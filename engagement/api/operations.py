"""Liveness and readiness probes for load balancers and orchestrators."""
from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Blueprint, Response, jsonify
from sqlalchemy.exc import SQLAlchemyError

from engagement import metrics
from engagement.errors import DATABASE_RETRY_AFTER_SECONDS, HTTP_ERROR_CODES, error_response
from engagement.extensions import db

log = logging.getLogger("engagement.operations")
blp = Blueprint("operations", __name__)


@blp.get("/healthz")
def healthz() -> Response:
    """The process is up (no dependencies checked)."""
    return jsonify({"status": "ok"})


@blp.get("/readyz")
def readyz() -> Response:
    """Ready when the database answers; 503 otherwise, so the balancer routes elsewhere."""
    try:
        db.session.execute(sa.text("SELECT 1"))
    except SQLAlchemyError as exc:
        db.session.rollback()
        log.warning("readiness check failed: %s", exc.__class__.__name__)
        metrics.database_unavailable(exc.__class__.__name__)
        # An error like every other: the contract's one error shape.
        code, message = HTTP_ERROR_CODES[503]
        return error_response(503, code, message, headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)})
    return jsonify({"status": "ok", "database": "ok"})
