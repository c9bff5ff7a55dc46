"""Leaderboards: rebuilt from the gifts, served from a per-process copy."""
