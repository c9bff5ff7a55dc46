"""Notifications: go-live fan-out to followers and each user's inbox."""
