"""The WSGI entry point for production servers: ``gunicorn -c deploy/gunicorn.conf.py``.

``lms.wsgi:app`` builds the app from the instance folder and the environment. An unsafe
production configuration (``LMS_ENV=production`` with a missing or sample secret key, or
debug on) prints what to change and exits with status 4, which gunicorn reports as
"App failed to load" and does not retry: one clear message instead of a traceback per worker.
"""

from __future__ import annotations

import sys

from lms import create_app
from lms.config import ConfigurationError
from lms.services.ingest import resume_on_start

# gunicorn's exit status for an application that cannot load (Arbiter.APP_LOAD_ERROR).
APP_LOAD_ERROR = 4

try:
    app = create_app()
except ConfigurationError as exc:
    print(f"Error: {exc}", file=sys.stderr, flush=True)
    raise SystemExit(APP_LOAD_ERROR) from None

# Video processing a killed or recycled worker left unfinished is taken up again (with
# Redis, the queued job goes to `lms worker`); a claim keeps two workers off the same file.
resume_on_start(app)
