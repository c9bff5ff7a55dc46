"""Domain errors raised by services and mapped to HTTP status codes at the API boundary."""

from __future__ import annotations


class ServiceError(Exception):
    """Base of domain errors; `status` is the HTTP code the API answers with."""

    status = 400
    # True when what the service wrote before failing must be committed anyway (security
    # bookkeeping such as revoking a stolen token family); the error handler commits it.
    keeps_changes = False
    # Seconds after which the same request may succeed (sent as Retry-After), if known.
    retry_after: int | None = None

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(ServiceError):
    """The thing asked for does not exist."""

    status = 404


class Conflict(ServiceError):
    """The request contradicts the current state (taken name, already live, ...)."""

    status = 409


class Unauthorized(ServiceError):
    """Credentials are missing, wrong, expired or revoked."""

    status = 401


class Forbidden(ServiceError):
    """The caller is known but not allowed to do this."""

    status = 403


class InvalidInput(ServiceError):
    """Input that passed the schema but breaks a business rule."""

    status = 422


class RateLimited(ServiceError):
    """Too many requests for now; `retry_after` says how many seconds to wait."""

    status = 429

    def __init__(self, message: str, *, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(ServiceError):
    """The service cannot take this now (a limit of this process); `retry_after` seconds."""

    status = 503

    def __init__(self, message: str, *, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after
