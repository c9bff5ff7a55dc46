"""WSGI entry point (`gunicorn wsgi:app`), also what `flask` finds in the project folder.

Settings come from the environment; those it lacks are taken from a `make run` on this
machine (`mylivelinks.local_servers`), so the CLI works there with no variables.
"""

import os
import sys
from pathlib import Path

from mylivelinks import create_app
from mylivelinks.config import Config, ConfigError
from mylivelinks.local_servers import LocalServerMissing, with_make_run_servers

try:
    app = create_app(Config(with_make_run_servers(os.environ, Path(__file__).resolve().parent)))
except (ConfigError, LocalServerMissing) as problem:
    sys.exit(f"mylivelinks: {problem}")
