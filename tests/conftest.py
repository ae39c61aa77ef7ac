"""Fixtures: an app on a fresh database per test, signed-in clients, a live server.

``pytest --db sqlite`` (the default) runs everything on SQLite files;
``pytest --db postgresql`` runs the tests that touch the database again on
PostgreSQL: the server named by ``TEST_DATABASE_URL``, or a throwaway one this
suite starts and removes.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import WSGIRequestHandler, make_server

from tests.databases import PostgresDatabases, SqliteDatabases
from tests.helpers import Credentials, WebClient, make_user
from tests.pgserver import throwaway_postgres
from webapp import create_app
from webapp.extensions import db
from webapp.models import Role

# A test that asks for any of these touches the database: it runs on every engine.
DATABASE_FIXTURES = {"database_url", "app_factory"}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        choices=["sqlite", "postgresql"],
        default="sqlite",
        help="database engine; with postgresql only the tests that touch the database run",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if DATABASE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.db)
    if config.getoption("--db") == "postgresql":
        skipped = [item for item in items if not item.get_closest_marker("db")]
        if skipped:
            config.hook.pytest_deselected(items=skipped)
            items[:] = [item for item in items if item.get_closest_marker("db")]


@pytest.fixture(scope="session")
def databases(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SqliteDatabases | PostgresDatabases]:
    """The engine under test, able to hand out fresh migrated databases."""
    folder = tmp_path_factory.mktemp("databases")
    if request.config.getoption("--db") == "sqlite":
        yield SqliteDatabases(folder)
        return
    if url := os.environ.get("TEST_DATABASE_URL"):
        postgres = PostgresDatabases(url, folder)
        yield postgres
        postgres.close()
        return
    with throwaway_postgres() as url:
        yield PostgresDatabases(url, folder)


@pytest.fixture
def database_url(databases: SqliteDatabases | PostgresDatabases) -> Iterator[str]:
    """A fresh, migrated, empty database for this test alone."""
    url = databases.create()
    yield url
    databases.drop(url)


def build_app(database_url: str, instance_path: Path, **overrides: object) -> Flask:
    """An app as operators run it, on the given database, with test settings."""
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "DATABASE_URL": database_url,
        "SCHEDULER": "off",
        "WEBHOOK_WORKER": False,  # tests process events themselves, or ask for the worker
        "BASE_URL": "http://127.0.0.1:5000",
        **overrides,
    }
    return create_app(config, instance_path=str(instance_path))


@pytest.fixture
def app_factory(database_url: str, tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    """Build apps on this test's database (several: as several app processes would)."""
    apps: list[Flask] = []

    def factory(**overrides: object) -> Flask:
        apps.append(build_app(database_url, tmp_path / f"instance{len(apps)}", **overrides))
        return apps[-1]

    yield factory
    for app in apps:
        with app.app_context():
            # Close every connection first: PostgreSQL cannot drop a database in use.
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def app(app_factory: Callable[..., Flask]) -> Flask:
    """The app on this test's own database."""
    return app_factory()


@pytest.fixture
def admin(app: Flask) -> Credentials:
    return make_user(app, "ada@example.com", Role.ADMIN, name="Ada Admin")


@pytest.fixture
def agent(app: Flask) -> Credentials:
    return make_user(app, "alan@example.com", Role.AGENT, name="Alan Agent")


@pytest.fixture
def web(app: Flask) -> WebClient:
    """A browser-like client (cookies, CSRF tokens) that is not signed in."""
    return WebClient(app.test_client())


@pytest.fixture
def admin_web(app: Flask, admin: Credentials) -> WebClient:
    client = WebClient(app.test_client())
    client.login(admin)
    return client


@pytest.fixture
def agent_web(app: Flask, agent: Credentials) -> WebClient:
    client = WebClient(app.test_client())
    client.login(agent)
    return client


class PathOnlyLog(WSGIRequestHandler):
    """Log request paths without query strings (codes and tokens travel there), as
    ``make run``'s access log does."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        self.log("info", '"%s %s" %s %s', self.command, self.path.split("?")[0], code, size)


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """The app served on a free loopback port by a threaded server."""
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=PathOnlyLog)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()
