"""`engagement` console script and `python -m engagement`: the Flask CLI bound to the factory."""
from flask.cli import FlaskGroup

from engagement import create_app


def main() -> None:
    FlaskGroup(create_app=lambda: create_app()).main()


if __name__ == "__main__":
    main()
