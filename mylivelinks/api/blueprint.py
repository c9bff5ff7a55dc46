"""The Blueprint of every resource: flask-smorest's, parsing requests with RequestParser."""

from __future__ import annotations

from typing import Any

import flask
import flask_smorest
import marshmallow as ma
from webargs import core
from webargs.flaskparser import FlaskParser, abort, is_json_request

from mylivelinks.api.input import (
    UNSTORABLE_TEXT_MESSAGE,
    MalformedJson,
    parse_json_body,
    unstorable_fields,
)


class RequestParser(FlaskParser):
    """webargs' Flask parser that refuses malformed JSON with 400 and unstorable text with 422.

    Every location a schema reads (body, query string, headers) is checked before the
    schema loads it, so no field of any schema can carry such text to the database.
    """

    def _raw_load_json(self, req: flask.Request) -> Any:
        if not is_json_request(req):
            return core.missing
        raw = req.get_data(cache=True)
        if not raw:
            return core.missing
        try:
            return parse_json_body(raw)
        except MalformedJson as exc:
            abort(400, exc=exc, messages={"json": [exc.reason]})

    def _load_location_data(self, *, schema: ma.Schema, req: flask.Request, location: str) -> Any:
        data = super()._load_location_data(schema=schema, req=req, location=location)
        if isinstance(data, dict | list) and location == "json":
            given: Any = data
        elif hasattr(data, "get"):  # a query string or headers: only what the schema reads
            keys = [field.data_key or name for name, field in schema.load_fields.items()]
            given = {key: data.get(key) for key in keys if key in data}
        else:
            return data
        bad = sorted(set(unstorable_fields(given)))
        if bad:
            raise ma.ValidationError({field: [UNSTORABLE_TEXT_MESSAGE] for field in bad})
        return data


class Blueprint(flask_smorest.Blueprint):
    """A resource's routes; its arguments are parsed by RequestParser."""

    ARGUMENTS_PARSER = RequestParser()

    def arguments(self, schema, *, location="json", required=None, **kwargs):
        """flask-smorest's `arguments`; a body is documented as optional when no field of its
        schema is required (a request without one loads the schema's defaults)."""
        if required is None:
            instance = schema() if isinstance(schema, type) else schema
            required = any(field.required for field in instance.load_fields.values())
        return super().arguments(schema, location=location, required=required, **kwargs)
