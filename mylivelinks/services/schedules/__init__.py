"""Schedules: creators' recurring plans and their occurrences in local time."""
