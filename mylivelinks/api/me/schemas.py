"""Schemas of the caller's own profile and links."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from mylivelinks.api.profiles.schemas import LinkSchema, PublicProfileSchema
from mylivelinks.api.schemas import WEB_URL, validate_time_zone
from mylivelinks.services.accounts.profiles import MAX_LINKS


class OwnProfileSchema(PublicProfileSchema):
    """The caller's profile, with private fields."""

    email = ma.fields.String(dump_only=True, allow_none=True)
    role = ma.fields.String(dump_only=True)
    latitude = ma.fields.Float(dump_only=True, allow_none=True)
    longitude = ma.fields.Float(dump_only=True, allow_none=True)
    timezone = ma.fields.String(dump_only=True)


class ProfilePatchSchema(ma.Schema):
    """Fields of one's own profile that PATCH /me may change (all optional)."""

    display_name = ma.fields.String(allow_none=True, validate=validate.Length(max=50))
    bio = ma.fields.String(allow_none=True, validate=validate.Length(max=500))
    avatar_url = ma.fields.String(allow_none=True, validate=[validate.Length(max=2048), WEB_URL])
    latitude = ma.fields.Float(allow_none=True, validate=validate.Range(min=-90, max=90))
    longitude = ma.fields.Float(allow_none=True, validate=validate.Range(min=-180, max=180))
    timezone = ma.fields.String(validate=validate_time_zone)

    @ma.validates_schema
    def coordinates_together(self, data, **kwargs):
        """Latitude and longitude are set (or cleared) as a pair."""
        if "latitude" not in data and "longitude" not in data:
            return
        latitude, longitude = data.get("latitude"), data.get("longitude")
        if (latitude is None) != (longitude is None):
            raise ma.ValidationError(
                "Send latitude and longitude together, both numbers or both null.", "latitude"
            )


class LinksSchema(ma.Schema):
    """The whole ordered list of one's links."""

    links = ma.fields.List(
        ma.fields.Nested(LinkSchema),
        required=True,
        validate=validate.Length(max=MAX_LINKS, error=f"At most {MAX_LINKS} links."),
    )
