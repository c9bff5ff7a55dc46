"""MyLiveLinks: the group live-streaming API."""

from __future__ import annotations

from flask import Flask
from flask.json.provider import DefaultJSONProvider
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.middleware.proxy_fix import ProxyFix

from mylivelinks.config import Config


def create_app(config: Config | None = None) -> Flask:
    """Build the Flask app from `config` (read from the environment when omitted)."""
    from mylivelinks import models  # noqa: F401  (registers every model on the metadata)
    from mylivelinks.api import register_blueprints, register_debug_tools
    from mylivelinks.api.docs_assets import register_docs_assets
    from mylivelinks.cli import register_cli
    from mylivelinks.connection_checks import init_connection_checks
    from mylivelinks.extensions import cors, db, init_api, init_redis, migrate
    from mylivelinks.observability import configure_logging, init_observability
    from mylivelinks.providers import init_media_provider
    from mylivelinks.providers.base import MediaProviderError, ProviderUnavailable
    from mylivelinks.rate_limits import init_rate_limits
    from mylivelinks.services.accounts.external_identity import init_external_identity
    from mylivelinks.services.errors import ServiceError
    from mylivelinks.transaction import init_transaction_boundary
    from mylivelinks.web import init_web

    config = config or Config()
    configure_logging(config.LOG_LEVEL)
    app = Flask(__name__)
    json_provider = DefaultJSONProvider(app)
    json_provider.sort_keys = False  # the order the schemas give
    app.json = json_provider
    app.config.update({name: getattr(config, name) for name in vars(config)})
    app.config.update(config.flask_mapping())
    if config.PROXY_HOPS:
        # Behind proxies, request.url is the public URL vendors sign (Twilio) and call.
        hops = config.PROXY_HOPS
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]  # Flask's documented way
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops
        )

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
    register_blueprints(init_api(app))
    register_docs_assets(app)
    if app.debug:
        register_debug_tools(app)
    register_cli(app)
    init_web(app)

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
        headers = {}
        if error.retry_after is not None:
            headers["Retry-After"] = str(error.retry_after)
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
