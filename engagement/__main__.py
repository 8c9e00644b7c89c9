"""`engagement` console script and `python -m engagement`: the Flask CLI bound to the factory."""
import sys

from flask.cli import FlaskGroup

from engagement import create_app
from engagement.config import ConfigurationError


def _create_app():  # type: ignore[no-untyped-def]
    try:
        return create_app()
    except ConfigurationError as error:
        print(f"engagement: configuration error: {error}", file=sys.stderr)
        raise SystemExit(1) from None


def main() -> None:
    FlaskGroup(create_app=_create_app).main()


if __name__ == "__main__":
    main()
