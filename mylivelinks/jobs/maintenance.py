"""Housekeeping jobs."""

from __future__ import annotations

import logging
from datetime import timedelta

from mylivelinks.jobs.context import job
from mylivelinks.services.accounts.tokens import purge_dead_refresh_tokens
from mylivelinks.services.accounts.users import purge_guests

log = logging.getLogger(__name__)

# Dead refresh tokens are kept a week so support can still see recent sessions.
REFRESH_TOKEN_RETENTION = timedelta(days=7)
# Far longer than a guest's access token lives: a purged guest cannot be watching.
GUEST_RETENTION = timedelta(days=1)


@job
def purge_refresh_tokens() -> int:
    """Delete refresh tokens that expired or were revoked more than a week ago."""
    removed = purge_dead_refresh_tokens(REFRESH_TOKEN_RETENTION)
    log.info("purged refresh tokens", extra={"removed": removed})
    return removed


@job
def purge_old_guests() -> int:
    """Delete guests created more than a day ago (their viewing sessions stay, anonymous)."""
    removed = purge_guests(GUEST_RETENTION)
    log.info("purged guests", extra={"removed": removed})
    return removed
