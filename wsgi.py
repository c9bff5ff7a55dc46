"""WSGI entry point: `gunicorn wsgi:app`."""

from mylivelinks import create_app

app = create_app()
