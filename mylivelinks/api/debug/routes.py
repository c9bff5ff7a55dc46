"""Development-only tools for staff; registered only when the app runs with DEBUG, and left
out of the OpenAPI document, which must not depend on APP_ENV."""

from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView
from flask_smorest import abort

from mylivelinks.api.blueprint import Blueprint
from mylivelinks.api.security import auth_required
from mylivelinks.providers import media_provider
from mylivelinks.providers.local import LocalProvider
from mylivelinks.services.moderation.actions import STAFF

blp = Blueprint("debug", __name__, url_prefix="/debug", description="Development tools")


class MediaCallsSchema(ma.Schema):
    """Calls the local media provider recorded, newest first."""

    provider = ma.fields.String(dump_only=True)
    items = ma.fields.List(ma.fields.Dict(), dump_only=True)


@blp.route("/media-calls")
class MediaCalls(MethodView):
    @auth_required(blp, *STAFF)
    @blp.response(200, MediaCallsSchema)
    def get(self):
        """The last 100 calls made to the local media provider (moderators and admins)"""
        provider = media_provider()
        if isinstance(provider, LocalProvider):
            return {"provider": provider.name, "items": provider.ex_recorded_calls()}
        abort(404, message=f"The {provider.name} provider records no calls.")
