"""Streams: per-stream views such as the gift leaderboard."""
