"""A sample gunicorn configuration that overrides the host's measured one (optional).

``workflowapp serve`` already uses the configuration shipped inside the package
(``workflowapp/gunicorn_conf.py``: gevent workers, one per core, 1,000 calls each, 960 s
heartbeat), and every value there has a ``WORKFLOWAPP_*`` variable (``config/example.env``), so
most installations need no file at all. When you do need one (a gunicorn setting without a
variable, a hook of your own), start from this file and give its path to
``workflowapp serve --config /etc/workflowapp/gunicorn.conf.py`` or ``WORKFLOWAPP_GUNICORN_CONF``:
it keeps every measured value and hook (start-up check, metrics folder) and changes only what
you add below.
"""

from workflowapp.gunicorn_conf import *  # noqa: F403  (the measured settings and hooks)

# Examples (uncomment to use):
# bind = ["127.0.0.1:8000"]          # behind nginx on this machine
# limit_request_field_size = 16380   # a gunicorn setting without a WORKFLOWAPP_* variable
