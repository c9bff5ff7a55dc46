"""Room moderation endpoints."""
