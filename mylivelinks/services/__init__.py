"""Business operations. Services flush, never commit: the request or job boundary does."""
