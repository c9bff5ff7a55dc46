"""Swagger UI's files for `/docs`, served from the installed flask-swagger-ui package.

The docs then work offline, at the Swagger UI version that package pins
(constraints.txt), instead of whatever a CDN serves.
"""

from __future__ import annotations

from importlib.resources import files

from flask import Blueprint

DOCS_ASSETS_PATH = "/docs/assets/"
SWAGGER_UI_DIST = str(files("flask_swagger_ui") / "dist")


def register_docs_assets(app) -> None:
    """Serve Swagger UI's JavaScript and CSS under DOCS_ASSETS_PATH."""
    assets = Blueprint(
        "docs_assets",
        __name__,
        static_folder=SWAGGER_UI_DIST,
        static_url_path=DOCS_ASSETS_PATH.rstrip("/"),
    )
    app.register_blueprint(assets)
