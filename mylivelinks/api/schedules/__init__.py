"""Stream schedules: the caller's own, and upcoming occurrences across creators."""
