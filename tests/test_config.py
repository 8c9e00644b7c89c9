"""Configuration: defaults, environment, overrides, and the secret key rules."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from engagement import PROJECT_ROOT, create_app
from engagement.config import ConfigurationError, load_config


def test_defaults_apply_without_environment(tmp_path):
    config = load_config(str(tmp_path), environ={})
    assert config["SQLALCHEMY_DATABASE_URI"] == "sqlite:///" + str(tmp_path / "engagement.db")
    assert config["EDIT_WINDOW_MINUTES"] == 15
    assert config["MAX_DEPTH"] == 5
    assert config["FLAG_THRESHOLD"] == 3
    assert config["MAX_CONTENT_LENGTH"] == 64 * 1024
    assert config["CORS_ORIGINS"] == ["*"]
    assert config["REACTION_KINDS"] == ["like", "love", "insightful", "surprised", "sad", "angry"]
    assert config["RATELIMIT_ENABLED"] is True
    assert config["PG_ASYNC_COUNTER_COMMITS"] is True


def test_environment_variables_are_parsed(tmp_path):
    environ = {
        "DATABASE_URL": "postgres://u@db/engagement",
        "ENGAGEMENT_CORS_ORIGINS": "https://news.example, https://www.news.example",
        "ENGAGEMENT_EDIT_WINDOW_MINUTES": "30",
        "ENGAGEMENT_REACTION_KINDS": "like,wow",
        "ENGAGEMENT_RATELIMIT_ENABLED": "false",
        "ENGAGEMENT_TRUSTED_PROXIES": "2",
        "ENGAGEMENT_SQLITE_MEMORY_MB": "16",
        "ENGAGEMENT_PG_ASYNC_COUNTER_COMMITS": "false",
    }
    config = load_config(str(tmp_path), environ=environ)
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db/engagement"
    # Idle connections are pinged by engagement's own pool check, not on every checkout.
    assert "pool_pre_ping" not in config["SQLALCHEMY_ENGINE_OPTIONS"]
    assert config["CORS_ORIGINS"] == ["https://news.example", "https://www.news.example"]
    assert config["EDIT_WINDOW_MINUTES"] == 30
    assert config["REACTION_KINDS"] == ["like", "wow"]
    assert config["RATELIMIT_ENABLED"] is False
    assert config["TRUSTED_PROXIES"] == 2
    assert config["SQLITE_MEMORY_MB"] == 16
    assert config["PG_ASYNC_COUNTER_COMMITS"] is False


def test_overrides_win_over_environment(tmp_path):
    config = load_config(str(tmp_path), environ={"ENGAGEMENT_MAX_DEPTH": "3"}, overrides={"MAX_DEPTH": 7})
    assert config["MAX_DEPTH"] == 7


@pytest.mark.parametrize(
    "environ",
    [
        {"ENGAGEMENT_EDIT_WINDOW_MINUTES": "soon"},
        {"ENGAGEMENT_RATELIMIT_ENABLED": "perhaps"},
        {"ENGAGEMENT_MODERATION": "sometimes"},
        {"ENGAGEMENT_ENV": "staging"},
        {"ENGAGEMENT_REACTION_KINDS": " , "},
        {"ENGAGEMENT_API_DOCS": "sometimes"},
        {"ENGAGEMENT_SQLITE_MEMORY_MB": "-1"},
        {"ENGAGEMENT_SQLITE_MEMORY_MB": "plenty"},
        {"ENGAGEMENT_PG_ASYNC_COUNTER_COMMITS": "sometimes"},
    ],
)
def test_malformed_values_refuse_to_start(tmp_path, environ):
    with pytest.raises(ConfigurationError):
        load_config(str(tmp_path), environ=environ)


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, True),
        ({"ENGAGEMENT_ENV": "production"}, False),
        ({"ENGAGEMENT_ENV": "production", "ENGAGEMENT_API_DOCS": "true"}, True),
        ({"ENGAGEMENT_ENV": "development", "ENGAGEMENT_API_DOCS": "false"}, False),
        ({"ENGAGEMENT_ENV": "production", "ENGAGEMENT_API_DOCS": ""}, False),
    ],
)
def test_api_docs_follow_the_environment_unless_set(tmp_path, environ, expected):
    environ = {"SECRET_KEY": "k" * 32, **environ}
    assert load_config(str(tmp_path), environ=environ)["API_DOCS"] is expected


def test_development_generates_and_keeps_a_secret_key(tmp_path):
    first = load_config(str(tmp_path), environ={})["SECRET_KEY"]
    second = load_config(str(tmp_path), environ={})["SECRET_KEY"]
    assert first == second and len(first) >= 32
    assert (tmp_path / "secret_key").read_text().strip() == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_production_refuses_to_start_without_secret_key(tmp_path):
    with pytest.raises(ConfigurationError, match="SECRET_KEY is not set"):
        load_config(str(tmp_path), environ={"ENGAGEMENT_ENV": "production"})
    assert not (tmp_path / "secret_key").exists()


def test_production_refuses_a_short_secret_key(tmp_path):
    with pytest.raises(ConfigurationError, match="at least 32"):
        load_config(str(tmp_path), environ={"ENGAGEMENT_ENV": "production", "SECRET_KEY": "short"})


def test_production_app_never_runs_in_debug(tmp_path, monkeypatch):
    monkeypatch.setenv("ENGAGEMENT_INSTANCE_PATH", str(tmp_path))
    app = create_app(
        {
            "ENGAGEMENT_ENV": "production",
            "SECRET_KEY": "k" * 40,
            "DEBUG": True,
            "SQLALCHEMY_DATABASE_URI": "sqlite:///" + str(tmp_path / "p.db"),
        }
    )
    assert app.debug is False


BAD_SETTING = {"ENGAGEMENT_ENV": "production", "SECRET_KEY": "too-short"}


def _run_with_bad_setting(command: list[str], tmp_path) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("ENGAGEMENT_")}
    environment.update(BAD_SETTING, ENGAGEMENT_INSTANCE_PATH=str(tmp_path), ENGAGEMENT_BIND="127.0.0.1:0")
    return subprocess.run(command, cwd=PROJECT_ROOT, env=environment, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("command", [
    ["flask", "--app", "wsgi", "db", "current"],
    ["engagement", "prune"],
    ["gunicorn", "--config", "gunicorn.conf.py", "wsgi:app"],
])
def test_a_bad_setting_is_one_line_and_a_failed_exit(command, tmp_path):
    """The operator sees which setting is wrong, not a traceback around it; the process fails."""
    completed = _run_with_bad_setting([str(Path(sys.executable).parent / command[0]), *command[1:]], tmp_path)
    output = completed.stdout + completed.stderr
    assert completed.returncode != 0
    assert "Traceback" not in output
    [mention] = [line for line in output.splitlines() if "SECRET_KEY must be at least 32 characters" in line]
    assert "configuration error" in mention


def test_an_sqlite_library_without_returning_refuses_to_start(tmp_path, monkeypatch):
    import sqlite3

    monkeypatch.setenv("ENGAGEMENT_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 31, 1))
    monkeypatch.setattr(sqlite3, "sqlite_version", "3.31.1")
    with pytest.raises(ConfigurationError, match=r"SQLite 3\.31\.1 is too old: engagement needs 3\.35"):
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite:///" + str(tmp_path / "old.db")})
