"""Accounts: registration and login, passwords, tokens, usernames, profiles and follows."""
