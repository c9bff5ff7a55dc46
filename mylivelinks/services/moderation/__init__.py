"""Moderation: room bans, chat timeouts and the audit trail."""
