"""The request boundary: commit once on success, roll back otherwise, then run after-commit work.

Services only flush. Work that must not happen unless the data is durable (enqueueing
jobs, publishing events, calling vendors) is registered with `after_commit`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Flask, Response, g, has_request_context

from mylivelinks.extensions import db

log = logging.getLogger(__name__)


def after_commit(callback: Callable[[], None]) -> None:
    """Run `callback` once the current request's transaction has committed."""
    if not has_request_context():
        raise RuntimeError("after_commit outside a request; jobs call their hooks themselves")
    g.setdefault("after_commit", []).append(callback)


def end_read_only_transaction() -> None:
    """Close the request's transaction before a slow vendor call; it must not have written."""
    session = db.session
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("end_read_only_transaction after writes; call the vendor first")
    session.commit()


def _run_after_commit() -> None:
    for callback in g.pop("after_commit", []):
        try:
            callback()
        except Exception:
            # The data is committed; the sweeps converge whatever a hook failed to do.
            log.exception("after-commit hook failed")


def init_transaction_boundary(app: Flask) -> None:
    """Commit the session after successful requests; roll back after errors."""

    @app.after_request
    def commit_or_rollback(response: Response) -> Response:
        # A request that never touched the database (a heartbeat) has no session to end.
        used = db.session.registry.has()
        if response.status_code < 400:
            if used:
                db.session.commit()
            _run_after_commit()
        else:
            if used:
                db.session.rollback()
            g.pop("after_commit", None)
        return response
