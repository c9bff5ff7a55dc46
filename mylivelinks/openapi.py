"""Render the OpenAPI document the code generates: `python -m mylivelinks.openapi openapi.yaml`."""

from __future__ import annotations

import sys
from enum import StrEnum

import yaml
from flask import Flask

from mylivelinks import create_app
from mylivelinks.config import Config

# Placeholders: building the document needs an app, not a database or Redis connection.
_DOC_ENVIRONMENT = {
    "APP_ENV": "testing",
    "SECRET_KEY": "openapi-generation-only",
    "DATABASE_URL": "postgresql://openapi@localhost/openapi",
    "REDIS_URL": "redis://localhost:6379/0",
}


class _SpecDumper(yaml.SafeDumper):
    """Safe YAML that writes enum members (schema choices) as their text."""


_SpecDumper.add_multi_representer(
    StrEnum, lambda dumper, member: dumper.represent_str(member.value)
)


def render_openapi_yaml(app: Flask | None = None) -> str:
    """The OpenAPI document of `app` (a fresh one by default) as YAML."""
    app = app or create_app(Config(_DOC_ENVIRONMENT))
    spec = app.extensions["smorest_api"].spec.to_dict()
    return yaml.dump(spec, Dumper=_SpecDumper, sort_keys=True, allow_unicode=True)


def main(argv: list[str]) -> int:
    """Write the document to the path given (stdout when none)."""
    document = render_openapi_yaml()
    if len(argv) > 1:
        with open(argv[1], "w", encoding="utf-8") as handle:
            handle.write(document)
    else:
        sys.stdout.write(document)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
