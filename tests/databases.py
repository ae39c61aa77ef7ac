"""Fresh databases for each test, copied from one migrated template per run."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import psycopg
from flask_migrate import upgrade
from psycopg import sql

from webapp import create_app
from webapp.extensions import db


def migrate(url: str, instance_path: Path) -> None:
    """Build the schema the way operators do: the Flask-Migrate migrations."""
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "x"}, instance_path=str(instance_path))
    with app.app_context():
        upgrade()
        db.session.remove()
        db.engine.dispose()


class SqliteDatabases:
    """Each test gets a copy of a migrated SQLite file."""

    engine = "sqlite"

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.template = folder / "template.db"
        migrate(f"sqlite:///{self.template}", folder / "instance")

    def create(self) -> str:
        path = self.folder / f"{uuid.uuid4().hex}.db"
        shutil.copyfile(self.template, path)
        return f"sqlite:///{path}"

    def drop(self, url: str) -> None:
        Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)


class PostgresDatabases:
    """Each test gets ``CREATE DATABASE ... TEMPLATE`` of a migrated database."""

    engine = "postgresql"

    def __init__(self, server_url: str, folder: Path) -> None:
        self.server_url = server_url
        self.template = f"pagedesk_template_{uuid.uuid4().hex[:8]}"
        self._execute("CREATE DATABASE {}", self.template)
        migrate(self._url(self.template), folder / "instance")

    def _url(self, name: str) -> str:
        base, _, _ = self.server_url.rpartition("/")
        return f"{base}/{name}"

    def _execute(self, statement: str, *names: str) -> None:
        query = sql.SQL(statement).format(*map(sql.Identifier, names))
        with psycopg.connect(self.server_url, autocommit=True) as connection:
            connection.execute(query)

    def create(self) -> str:
        name = f"pagedesk_test_{uuid.uuid4().hex[:12]}"
        self._execute("CREATE DATABASE {} TEMPLATE {}", name, self.template)
        return self._url(name)

    def drop(self, url: str) -> None:
        self._execute("DROP DATABASE IF EXISTS {} WITH (FORCE)", url.rpartition("/")[2])

    def close(self) -> None:
        self._execute("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.template)
