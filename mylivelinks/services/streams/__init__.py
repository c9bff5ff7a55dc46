"""Streams: search and the stats of each stream and its viewer sessions."""
