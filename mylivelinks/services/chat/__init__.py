"""Chat: messages, moderators' settings and reports, and the system lines streams write."""
