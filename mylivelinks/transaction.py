"""The request boundary: commit once on success, roll back otherwise, then run after-commit work.

Services only flush. Work that must not happen unless the data is durable (enqueueing
jobs, publishing events, calling vendors) is registered with `after_commit`; the request
boundary below and the job wrapper (`jobs.context.job`) run it once they have committed.

A request whose writes are a single statement may instead let each statement commit as
it runs (`commit_each_statement`): the rows it locks are released as soon as it ends,
and neither BEGIN nor COMMIT costs a round trip. Its after-commit work then runs even
when the response fails afterwards, since what it describes is already durable.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Flask, Response, g, has_app_context
from sqlalchemy.engine import Engine

from mylivelinks.extensions import db

log = logging.getLogger(__name__)


def after_commit(callback: Callable[[], object]) -> None:
    """Run `callback` once the current request's or job's transaction has committed."""
    if not has_app_context():
        raise RuntimeError("after_commit outside an app context")
    g.setdefault("after_commit", []).append(callback)


def end_read_only_transaction() -> None:
    """Close the request's transaction before a slow vendor call; it must not have written."""
    session = db.session
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("end_read_only_transaction after writes; call the vendor first")
    session.commit()


def commit_each_statement() -> None:
    """Let each statement of this request commit as it runs (autocommit); call it before
    the first. A session already in a transaction, or bound to an outer one, keeps it."""
    session = db.session()
    if session.in_transaction() or not isinstance(session.get_bind(), Engine):
        return
    session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    g.commits_each_statement = True


def discard_after_commit() -> None:
    """Forget the hooks of a transaction that was rolled back."""
    g.pop("after_commit", None)


def run_after_commit() -> None:
    """Run (once) the hooks registered since the last run; call it right after a commit."""
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
            run_after_commit()
        else:
            if used:
                db.session.rollback()
            if g.get("commits_each_statement"):
                run_after_commit()  # its statements committed as they ran
            else:
                discard_after_commit()
        return response
