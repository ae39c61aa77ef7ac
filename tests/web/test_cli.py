"""Shell commands: migrations, ``users create`` and the demo admin."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from tests.helpers import Credentials, WebClient


def test_users_create_adds_a_person_who_can_sign_in(app: Flask) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "users",
            "create",
            "Sam@Example.com",
            "--role",
            "agent",
            "--password",
            "a long pass phrase",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "Created agent sam@example.com." in result.output
    client = WebClient(app.test_client())
    assert client.login(Credentials(0, "sam@example.com", "a long pass phrase")).status_code == 302


def test_users_create_says_what_went_wrong(app: Flask) -> None:
    runner = app.test_cli_runner()
    args = ["users", "create", "sam@example.com", "--role", "admin", "--password"]
    assert runner.invoke(args=[*args, "a fine password"]).exit_code == 0

    duplicate = runner.invoke(args=[*args, "another password"])
    assert duplicate.exit_code == 1
    assert "Someone on the team already uses sam@example.com." in duplicate.output

    weak = runner.invoke(
        args=["users", "create", "new@example.com", "--role", "admin", "--password", "short"]
    )
    assert weak.exit_code == 1
    assert "at least 10 characters" in weak.output

    bad_role = runner.invoke(
        args=["users", "create", "x@example.com", "--role", "boss", "--password", "p" * 12]
    )
    assert bad_role.exit_code == 2


def test_migrations_then_the_demo_admin_once(app: Flask) -> None:
    """What ``make run`` does: upgrade (already done) twice, demo admin twice."""
    runner = app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0

    first = runner.invoke(args=["users", "create-demo"])
    assert first.exit_code == 0
    assert "admin@example.com" in first.output
    note = (Path(app.instance_path) / "demo-admin.txt").read_text()
    password = note.split("password: ")[1].strip()
    assert password in first.output
    assert (Path(app.instance_path) / "demo-admin.txt").stat().st_mode & 0o077 == 0

    second = runner.invoke(args=["users", "create-demo"])
    assert second.exit_code == 0
    assert second.output == ""  # not recreated, not reset
    client = WebClient(app.test_client())
    assert client.login(Credentials(0, "admin@example.com", password)).status_code == 302


def test_the_models_match_the_migrations(app: Flask) -> None:
    """A model change without its migration fails here (``flask db check``)."""
    result = app.test_cli_runner().invoke(args=["db", "check"])
    assert result.exit_code == 0, result.output


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout_and_a_bigger_cache(app: Flask) -> None:
    from webapp.extensions import db

    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("SQLite's own settings")
        with db.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10000
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA cache_size").scalar() == -16384
