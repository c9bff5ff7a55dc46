"""Room chat, chat settings and reports."""
