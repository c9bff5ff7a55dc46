"""The caller's notifications."""
