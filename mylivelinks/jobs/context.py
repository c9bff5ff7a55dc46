"""App context for job functions run by `rq worker` outside any request."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Flask, has_app_context

from mylivelinks.extensions import db
from mylivelinks.transaction import discard_after_commit, run_after_commit

_worker_app: Flask | None = None


def _app() -> Flask:
    global _worker_app
    if _worker_app is None:
        from mylivelinks import create_app

        _worker_app = create_app()
    return _worker_app


def commit() -> None:
    """Commit a job's transaction before it goes on, and run its after-commit hooks now."""
    db.session.commit()
    run_after_commit()


def job(func: Callable[..., Any]) -> Callable[..., Any]:
    """Run `func` in an app context, commit on success (then run its after-commit hooks) and
    roll back on failure."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        if has_app_context():
            return _run(func, args, kwargs)
        with _app().app_context():
            return _run(func, args, kwargs)

    return wrapper


def _run(func, args, kwargs):
    try:
        result = func(*args, **kwargs)
        db.session.commit()
    except Exception:
        db.session.rollback()
        discard_after_commit()
        raise
    run_after_commit()
    return result
