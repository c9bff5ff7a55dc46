"""The caller's own profile and links."""

from __future__ import annotations

from flask.views import MethodView

from mylivelinks.api.blueprint import Blueprint
from mylivelinks.api.me.schemas import LinksSchema, OwnProfileSchema, ProfilePatchSchema
from mylivelinks.api.security import auth_required, current_user
from mylivelinks.services.accounts import profiles

blp = Blueprint("me", __name__, url_prefix="/me", description="The caller's own account")


@blp.route("")
class Me(MethodView):
    @auth_required(blp)
    @blp.response(200, OwnProfileSchema)
    def get(self):
        """The caller's profile"""
        return current_user()

    @auth_required(blp)
    @blp.arguments(ProfilePatchSchema())
    @blp.response(200, OwnProfileSchema)
    def patch(self, changes):
        """Change display name, bio, avatar, location or time zone"""
        return profiles.update_profile(current_user(), changes)


@blp.route("/links")
class MyLinks(MethodView):
    @auth_required(blp)
    @blp.response(200, LinksSchema)
    def get(self):
        """The caller's links, in order"""
        return {"links": current_user().links}

    @auth_required(blp)
    @blp.arguments(LinksSchema())
    @blp.response(200, LinksSchema)
    def put(self, data):
        """Replace the whole ordered list of links (at most 20, http/https only)"""
        return {"links": profiles.replace_links(current_user(), data["links"])}
