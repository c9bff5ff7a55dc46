"""Finding streams: one by id, a profile's, and search by status, name or title, and place
(scheduled ones are the schedules' occurrences not started yet).

Distances are great-circle (haversine) kilometres computed in plain SQL from the
streamer's profile coordinates, after a latitude/longitude bounding box narrows the rows,
so no PostgreSQL extension (PostGIS, earthdistance) is needed.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Float, Select, and_, cast, func, literal, null, or_, select

from mylivelinks.extensions import db
from mylivelinks.models import Box, Profile, Room, Schedule, Stream
from mylivelinks.models.streams import StreamStatus
from mylivelinks.pagination import Page, keyset_page
from mylivelinks.services.errors import NotFound
from mylivelinks.services.schedules import planning

EARTH_RADIUS_KM = 6371.0088
KM_PER_DEGREE = 111.195  # along a meridian, for the bounding box


@dataclass(frozen=True)
class Near:
    """A point and a radius: streams whose streamer is within `radius_km`, nearest first."""

    latitude: float
    longitude: float
    radius_km: float


def _listing() -> Select:
    return (
        select(Stream, Profile, Room.slug.label("room"), Box.position.label("position"))
        .join(Profile, Profile.id == Stream.streamer_id)
        .join(Room, Room.id == Stream.room_id)
        .outerjoin(Box, Box.id == Stream.box_id)
    )


def get_stream(stream_id: uuid.UUID):
    """(stream, streamer, room slug, box position) of one stream; NotFound."""
    row = db.session.execute(_listing().where(Stream.id == stream_id)).one_or_none()
    if row is None:
        raise NotFound("No such stream.")
    return row


def profile_streams(profile: Profile, *, limit: int, cursor: str | None) -> Page:
    """The profile's streams, current and past, newest first."""
    return _newest_first(_listing().where(Stream.streamer_id == profile.id), limit, cursor)


def _newest_first(stmt: Select, limit: int, cursor: str | None) -> Page:
    return keyset_page(
        stmt,
        [Stream.created_at, Stream.id],
        limit=limit,
        cursor=cursor,
        cursor_of=lambda row: (row.Stream.created_at, row.Stream.id),
    )


def _like_prefix(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


def _matching(title, q: str):
    prefix = _like_prefix(q.strip())
    return or_(
        func.lower(Profile.username).like(prefix, escape="\\"),
        title.ilike("%" + prefix, escape="\\"),
    )


def _distance_km(near: Near):
    lat1, lng1 = math.radians(near.latitude), math.radians(near.longitude)
    lat2, lng2 = func.radians(Profile.latitude), func.radians(Profile.longitude)
    half_chord = func.power(func.sin((lat2 - lat1) / 2), 2) + math.cos(lat1) * func.cos(
        lat2
    ) * func.power(func.sin((lng2 - lng1) / 2), 2)
    # least(1, …): rounding may push the haversine term just past 1 for antipodal points.
    return cast(
        2 * EARTH_RADIUS_KM * func.asin(func.sqrt(func.least(literal(1.0), half_chord))), Float
    )


def _bounding_box(near: Near):
    spread = near.radius_km / KM_PER_DEGREE
    box = [Profile.latitude.between(near.latitude - spread, near.latitude + spread)]
    cos_lat = math.cos(math.radians(near.latitude))
    if cos_lat > 0.01:
        wide = spread / cos_lat
        west, east = near.longitude - wide, near.longitude + wide
        if west >= -180 and east <= 180:  # a box across the antimeridian is not narrowed
            box.append(Profile.longitude.between(west, east))
    return and_(*box)


def search(
    *, status: StreamStatus, q: str | None, near: Near | None, limit: int, cursor: str | None
) -> Page:
    """Streams in `status` matching `q` (username prefix or title) and `near`; rows carry
    `distance_km` (None without `near`). Newest first, or nearest first with `near`."""
    stmt = _listing().where(Stream.status == status)
    if q:
        stmt = stmt.where(_matching(Stream.title, q))
    if near is None:
        stmt = stmt.add_columns(cast(null(), Float).label("distance_km"))
        return _newest_first(stmt, limit, cursor)
    distance = _distance_km(near)
    stmt = stmt.add_columns(distance.label("distance_km")).where(
        _bounding_box(near), distance <= near.radius_km
    )
    return keyset_page(
        stmt,
        [distance, Stream.id],
        limit=limit,
        cursor=cursor,
        cursor_of=lambda row: (row.distance_km, row.Stream.id),
        kinds=(float, uuid.UUID),
        ascending=True,
    )


def scheduled(
    now: datetime, *, q: str | None, near: Near | None, limit: int, cursor: str | None
) -> Page:
    """Scheduled occurrences not started yet (see `planning.upcoming`), soonest first, of
    creators matching `q` (username prefix or schedule title) and within `near`; items are
    (occurrence, distance_km or None)."""
    where = []
    if q:
        where.append(_matching(Schedule.title, q))
    if near is not None:
        where += [_bounding_box(near), _distance_km(near) <= near.radius_km]
    page = planning.upcoming(now, limit=limit, cursor=cursor, where=where, pending_only=True)
    distances: dict[uuid.UUID, float] = {}
    if near is not None and page.items:
        creators = {item.creator.id for item in page.items}
        distances = dict(
            db.session.execute(
                select(Profile.id, _distance_km(near)).where(Profile.id.in_(creators))
            ).all()
        )
    items = [(item, distances.get(item.creator.id)) for item in page.items]
    return Page(items, page.next_cursor)
