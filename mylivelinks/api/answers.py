"""Answers the app gives to any operation of a kind, documented on each: no `default`.

Every operation with a body may be 400 (malformed JSON) or 413 (a body over
MAX_CONTENT_LENGTH); every operation naming a resource in its path may be 404; a 429
carries Retry-After, and the 401 of an operation that takes a bearer token its challenge.
The views document the rest.
"""

from __future__ import annotations

import copy
from typing import Any

from apispec import BasePlugin

ERROR_CONTENT = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again",
        "schema": {"type": "integer", "minimum": 1},
        "required": True,
    }
}
CHALLENGE = {
    "WWW-Authenticate": {
        "description": '`Bearer realm="mylivelinks"`',
        "schema": {"type": "string"},
        "required": True,
    }
}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": ERROR_CONTENT}


BODY_ANSWERS = {
    "400": _error(
        "Malformed JSON (not UTF-8, not JSON, nested over 64 levels, a number too long to convert)"
    ),
    "413": _error("The body is larger than MAX_CONTENT_LENGTH"),
}
PATH_ANSWERS = {"404": _error("Nothing has this name or id")}


class AnswersPlugin(BasePlugin):
    """apispec plugin adding the answers of BODY_ANSWERS, PATH_ANSWERS and HEADERS_OF."""

    def operation_helper(self, path=None, operations=None, **kwargs: Any) -> None:
        """Complete each operation's responses with the answers its kind may give."""
        for operation in (operations or {}).values():
            responses = operation.setdefault("responses", {})
            documented = {str(code) for code in responses}
            extra: dict[str, Any] = {}
            if "requestBody" in operation:
                extra.update(BODY_ANSWERS)
            if path and "{" in path:
                extra.update(PATH_ANSWERS)
            for code, answer in extra.items():
                if code not in documented:
                    responses[code] = copy.deepcopy(answer)
            headers_of = {"429": RETRY_AFTER}
            if operation.get("security"):
                headers_of["401"] = CHALLENGE
            for code, response in responses.items():
                headers = headers_of.get(str(code))
                if headers and isinstance(response, dict):
                    response.setdefault("headers", {}).update(copy.deepcopy(headers))
