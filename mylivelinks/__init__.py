"""MyLiveLinks: the group live-streaming API."""

from __future__ import annotations

from contextlib import suppress
from inspect import iscoroutinefunction
from weakref import WeakKeyDictionary

from flask import Flask
from flask.sessions import SessionInterface
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.middleware.proxy_fix import ProxyFix

from mylivelinks.config import Config
from mylivelinks.json_provider import OrjsonProvider


class _NoCookieSessions(SessionInterface):
    """Callers authenticate with bearer tokens: no request reads or writes a session cookie
    (Flask's default would build a signing serializer for each request to look for one)."""

    def open_session(self, app, request):
        return None  # Flask then gives the request its NullSession

    def save_session(self, app, session, response) -> None:
        return None


class MyLiveLinks(Flask):
    """Flask with orjson, deciding once per function whether it must run as a coroutine.

    Flask asks `inspect.iscoroutinefunction` of every hook and view on every request
    (about twenty calls here), which came to a few percent of a gift's CPU time. The answer
    is kept per underlying function (a method's function, not the per-request bound method),
    weakly, so nothing made per request accumulates.
    """

    json_provider_class = OrjsonProvider
    session_interface = _NoCookieSessions()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._is_coroutine: WeakKeyDictionary = WeakKeyDictionary()

    def ensure_sync(self, func):
        """The function itself, or its sync wrapper if it is a coroutine function."""
        target = getattr(func, "__func__", func)
        try:
            is_coroutine = self._is_coroutine[target]
        except (KeyError, TypeError):  # TypeError: not weakly referenceable
            is_coroutine = iscoroutinefunction(func)
            with suppress(TypeError):
                self._is_coroutine[target] = is_coroutine
        return self.async_to_sync(func) if is_coroutine else func


def create_app(config: Config | None = None) -> Flask:
    """Build the Flask app from `config` (read from the environment when omitted)."""
    from mylivelinks import models  # noqa: F401  (registers every model on the metadata)
    from mylivelinks.api import register_blueprints
    from mylivelinks.cli import register_cli
    from mylivelinks.connection_checks import init_connection_checks
    from mylivelinks.extensions import cors, db, init_api, init_redis, migrate
    from mylivelinks.idempotency import release_idempotency_lock
    from mylivelinks.observability import configure_logging, init_observability
    from mylivelinks.providers import init_media_provider
    from mylivelinks.providers.base import MediaProviderError, ProviderUnavailable
    from mylivelinks.rate_limits import init_rate_limits
    from mylivelinks.services.accounts.external_identity import init_external_identity
    from mylivelinks.services.errors import ServiceError
    from mylivelinks.transaction import init_transaction_boundary

    config = config or Config()
    configure_logging(config.LOG_LEVEL)
    app = MyLiveLinks(__name__)
    app.config.update({name: getattr(config, name) for name in vars(config)})
    app.config.update(config.flask_mapping())
    app.json.sort_keys = False
    if config.PROXY_HOPS:
        # Behind proxies, request.url is the public URL vendors sign (Twilio) and call.
        hops = config.PROXY_HOPS
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)

    db.init_app(app)
    init_connection_checks(app)
    migrate.init_app(app, db, directory=_migrations_directory())
    init_redis(app)
    init_media_provider(app)
    init_rate_limits(app)
    init_external_identity(app)
    app.extensions["coin_packs"] = config.coin_packs
    cors.init_app(
        app,
        origins=config.CORS_ORIGINS,
        expose_headers=["X-Request-ID", "Retry-After"],
    )
    init_observability(app)
    init_transaction_boundary(app)
    app.teardown_request(release_idempotency_lock)
    register_blueprints(init_api(app), debug=app.debug)
    register_cli(app)

    @app.errorhandler(ServiceError)
    def handle_service_error(error: ServiceError):
        if error.keeps_changes:
            db.session.commit()
        payload = {
            "code": error.status,
            "status": HTTP_STATUS_CODES.get(error.status, "Error"),
            "message": error.message,
        }
        if error.status == 422:
            payload["errors"] = {error.field or "_schema": [error.message]}
        headers = {"Retry-After": str(error.retry_after)} if error.status == 429 else {}
        return payload, error.status, headers

    @app.errorhandler(MediaProviderError)
    def handle_media_provider_error(error: MediaProviderError):
        # Nothing was committed; the vendor's state is reconciled by the publish sweep.
        db.session.rollback()
        status = 503 if isinstance(error, ProviderUnavailable) else 502
        message = "The video provider is unavailable; try again shortly."
        if status == 502:
            message = "The video provider refused the request."
        return {"code": status, "status": HTTP_STATUS_CODES[status], "message": message}, status

    return app


def _migrations_directory() -> str:
    from pathlib import Path

    return str(Path(__file__).resolve().parent.parent / "migrations")
