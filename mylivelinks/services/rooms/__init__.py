"""Rooms: boxes, going live, watching, presence, demand-based publishing, vendor events."""
