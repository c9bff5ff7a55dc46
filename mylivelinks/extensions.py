"""Extension singletons, initialised by create_app."""

from __future__ import annotations

from flask import current_app
from flask_cors import CORS
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from redis import Redis
from rq import Queue

from mylivelinks.api.answers import AnswersPlugin
from mylivelinks.api.converters import document_converters, init_converters
from mylivelinks.api.errors import Api
from mylivelinks.models.base import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
cors = CORS()


def init_api(app) -> Api:
    """Create the app's flask-smorest Api (one per app, so several apps can coexist)."""
    init_converters(app)
    api = Api(app, spec_kwargs={"extra_plugins": [AnswersPlugin()]})
    document_converters(api)
    app.extensions["smorest_api"] = api
    return api


def init_redis(app) -> None:
    """Attach one Redis client (thread-safe connection pool) to the app."""
    app.extensions["redis"] = Redis.from_url(
        app.config["REDIS_URL"], socket_connect_timeout=5, health_check_interval=30
    )


def get_redis() -> Redis:
    """The Redis client of the current app."""
    return current_app.extensions["redis"]


def get_queue(name: str) -> Queue:
    """The RQ queue called `name` on the current app's Redis."""
    return Queue(name, connection=get_redis())
