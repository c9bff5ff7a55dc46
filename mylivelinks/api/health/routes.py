"""Liveness, readiness and metrics for operators and orchestrators."""

from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from mylivelinks.api.blueprint import Blueprint
from mylivelinks.extensions import db, get_redis
from mylivelinks.ledger.reconciliation import latest_run
from mylivelinks.observability import (
    LEDGER_MISMATCHES,
    LEDGER_RECONCILED_AT,
    PAYMENT_EVENTS_FAILED,
    render_metrics,
)
from mylivelinks.payments.events import failed_event_count

blp = Blueprint("health", __name__, url_prefix="", description="Operations")


class HealthSchema(ma.Schema):
    """Liveness answer."""

    status = ma.fields.String(dump_only=True)


class ReadinessSchema(ma.Schema):
    """Readiness answer: each dependency and whether it answered (503 adds the error envelope)."""

    code = ma.fields.Integer(dump_only=True, metadata={"description": "503 when not ready"})
    status = ma.fields.String(
        dump_only=True, metadata={"description": "ok, or the reason phrase when not ready"}
    )
    message = ma.fields.String(dump_only=True, metadata={"description": "what is down"})
    checks = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.String(),
        dump_only=True,
        metadata={"description": "postgres / redis: ok or the error"},
    )


@blp.route("/healthz")
class Health(MethodView):
    @blp.response(200, HealthSchema)
    def get(self):
        """The process is alive"""
        return {"status": "ok"}


def _check_postgres() -> str:
    try:
        db.session.execute(text("SELECT 1"))
        return "ok"
    except Exception as exc:
        db.session.rollback()
        return f"error: {type(exc).__name__}"


def _check_redis() -> str:
    try:
        get_redis().ping()
        return "ok"
    except Exception as exc:
        return f"error: {type(exc).__name__}"


@blp.route("/readyz")
class Ready(MethodView):
    @blp.response(200, ReadinessSchema)
    @blp.alt_response(503, schema=ReadinessSchema, description="A dependency is down")
    def get(self):
        """PostgreSQL and Redis both answer"""
        checks = {"postgres": _check_postgres(), "redis": _check_redis()}
        down = [name for name, value in checks.items() if value != "ok"]
        if not down:
            return {"status": "ok", "checks": checks}
        return {
            "code": 503,
            "status": "Service Unavailable",
            "message": f"Not ready: {', '.join(down)} unavailable.",
            "checks": checks,
        }, 503


@blp.route("/metrics")
class Metrics(MethodView):
    @blp.response(200, content_type="text/plain", description="Prometheus text exposition")
    def get(self):
        """Prometheus metrics"""
        try:
            run = latest_run()
            PAYMENT_EVENTS_FAILED.set(failed_event_count())
        except SQLAlchemyError:  # metrics must answer even when the database does not
            db.session.rollback()
            run = None
        if run is not None:
            LEDGER_MISMATCHES.set(len(run.mismatches))
            LEDGER_RECONCILED_AT.set(run.finished_at.timestamp())
        return render_metrics()
