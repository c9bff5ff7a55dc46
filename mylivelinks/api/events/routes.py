"""Server-Sent Events: a room's public stream and the caller's private stream."""

from __future__ import annotations

from flask_smorest import Blueprint

blp = Blueprint("events", __name__, url_prefix="", description="Real-time events (SSE)")
