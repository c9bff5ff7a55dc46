"""The one error envelope of API.md: {code, status, message, errors?}."""

from __future__ import annotations

import flask_smorest
import marshmallow as ma
from flask import current_app
from werkzeug.exceptions import HTTPException, InternalServerError


class ErrorSchema(ma.Schema):
    """Every error response."""

    code = ma.fields.Integer(required=True, metadata={"description": "HTTP status code"})
    status = ma.fields.String(required=True, metadata={"description": "HTTP reason phrase"})
    message = ma.fields.String(required=True, metadata={"description": "What went wrong"})
    errors = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.List(ma.fields.String()),
        metadata={"description": "Per-field messages (422 only)"},
    )


def _flatten_field_errors(errors: dict) -> dict[str, list[str]]:
    """Turn webargs' {location: {field: [...]}} into {field: [...]}, nested fields dotted."""
    flat: dict[str, list[str]] = {}

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner)
        elif isinstance(value, list) and all(isinstance(item, str) for item in value):
            flat.setdefault(prefix or "_schema", []).extend(value)
        else:
            flat.setdefault(prefix or "_schema", []).append(str(value))

    for location_errors in errors.values():
        walk("", location_errors)
    return flat


class Api(flask_smorest.Api):
    """flask-smorest Api whose errors all use the documented envelope."""

    # flask-smorest types this as its own ErrorSchema class, though any schema documents it.
    ERROR_SCHEMA = ErrorSchema  # type: ignore[assignment]
    # No catch-all `default` answer: each operation documents every status it gives.
    DEFAULT_ERROR_RESPONSE_NAME = None  # type: ignore[assignment]

    def _register_error_handlers(self):
        super()._register_error_handlers()
        self._app.register_error_handler(Exception, self.handle_unexpected_exception)

    def handle_http_exception(self, error: HTTPException):
        """Render any HTTPException as the error envelope."""
        data = getattr(error, "data", None) or {}
        payload = {
            "code": error.code,
            "status": error.name,
            "message": data.get("message") or error.description or error.name,
        }
        errors = data.get("errors") or data.get("messages")
        headers = dict(data.get("headers") or {})
        if error.code == 422 and errors:
            payload["errors"] = _flatten_field_errors(errors)
            payload["message"] = data.get("message") or "The request has invalid fields."
        elif error.code == 400 and errors:
            # webargs reports malformed JSON as {"json": ["Invalid JSON body."]}
            payload["message"] = "; ".join(_flatten_field_errors(errors).get("_schema", [])) or (
                "Malformed request."
            )
        response_headers = list(error.get_headers())
        response_headers = [(k, v) for k, v in response_headers if k.lower() != "content-type"]
        response_headers.extend(headers.items())
        return payload, error.code, response_headers

    def handle_unexpected_exception(self, error: Exception):
        """Log an unhandled exception and answer 500 in the envelope."""
        if isinstance(error, HTTPException):
            return self.handle_http_exception(error)
        current_app.logger.exception("unhandled exception", exc_info=error)
        return self.handle_http_exception(InternalServerError())
