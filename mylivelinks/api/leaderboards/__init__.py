"""Leaderboards of top streamers and top gifters."""
