"""HTTP API: one package per resource (routes.py + schemas.py)."""

from __future__ import annotations

API_PREFIX = "/api/v1"


def register_blueprints(api) -> None:
    """Register every resource blueprint on the smorest Api."""
    from mylivelinks.api.admin.routes import blp as admin_blp
    from mylivelinks.api.auth.routes import blp as auth_blp
    from mylivelinks.api.chat.routes import blp as chat_blp
    from mylivelinks.api.coins.routes import blp as coins_blp
    from mylivelinks.api.events.routes import blp as events_blp
    from mylivelinks.api.gifts.routes import blp as gifts_blp
    from mylivelinks.api.health.routes import blp as health_blp
    from mylivelinks.api.leaderboards.routes import blp as leaderboards_blp
    from mylivelinks.api.me.routes import blp as me_blp
    from mylivelinks.api.moderation.routes import blp as moderation_blp
    from mylivelinks.api.notifications.routes import blp as notifications_blp
    from mylivelinks.api.profiles.routes import blp as profiles_blp
    from mylivelinks.api.rooms.routes import blp as rooms_blp
    from mylivelinks.api.schedules.routes import blp as schedules_blp
    from mylivelinks.api.streams.routes import blp as streams_blp
    from mylivelinks.api.streams.routes import profile_streams_blp
    from mylivelinks.api.wallet.routes import blp as wallet_blp
    from mylivelinks.api.webhooks.routes import blp as webhooks_blp

    api.register_blueprint(health_blp)
    resources = (
        auth_blp,
        me_blp,
        notifications_blp,
        wallet_blp,
        profiles_blp,
        rooms_blp,
        events_blp,
        chat_blp,
        moderation_blp,
        coins_blp,
        gifts_blp,
        leaderboards_blp,
        streams_blp,
        profile_streams_blp,
        schedules_blp,
        webhooks_blp,
        admin_blp,
    )
    for blueprint in resources:
        api.register_blueprint(blueprint, url_prefix=API_PREFIX + (blueprint.url_prefix or ""))


def register_debug_tools(app) -> None:
    """Register the development tools on the app itself, not on the Api: they stay out of
    the OpenAPI document, which is the same in every APP_ENV."""
    from mylivelinks.api.debug.routes import blp as debug_blp

    app.register_blueprint(debug_blp, url_prefix=API_PREFIX + (debug_blp.url_prefix or ""))
