"""Rooms: boxes, going live, watching, presence, demand-based publishing and its sweep,
vendor events, and what each change announces once committed."""
