"""WSGI entry point: ``application`` for gunicorn, waitress and IIS (HttpPlatformHandler)."""

from workflowapp import create_app

application = create_app()
