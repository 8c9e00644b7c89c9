"""The WSGI application (gunicorn ``wsgi:app``, ``flask --app wsgi``)."""
import sys

from engagement import create_app
from engagement.config import ConfigurationError

try:
    app = create_app()
except ConfigurationError as error:
    # A bad setting is the operator's to fix: name it, without a traceback around it.
    print(f"engagement: configuration error: {error}", file=sys.stderr)
    raise SystemExit(1) from None
