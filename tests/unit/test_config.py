"""Settings from the environment and the instance folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from webapp import config, create_app


def test_environment_values_take_the_type_of_their_default() -> None:
    values = config.from_environment(
        {"MAIL_PORT": "587", "MAIL_USE_TLS": "true", "TOKEN_REMINDER_DAYS": "30, 7,1", "PATH": "x"}
    )
    assert values == {"MAIL_PORT": 587, "MAIL_USE_TLS": True, "TOKEN_REMINDER_DAYS": (30, 7, 1)}


@pytest.mark.parametrize(
    ("url", "uri"),
    [
        ("", "sqlite:////srv/instance/pagedesk.db"),
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
    ],
)
def test_database_uri(url: str, uri: str) -> None:
    assert config.database_uri(url, "/srv/instance") == uri


def test_a_secret_key_is_made_once_and_kept(tmp_path: Path) -> None:
    first = config.persistent_secret_key(str(tmp_path))
    assert len(first) > 40
    assert config.persistent_secret_key(str(tmp_path)) == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_instance_config_then_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "config.py").write_text('BASE_URL = "https://desk.example"\nMAIL_PORT = 2525\n')
    monkeypatch.setenv("MAIL_PORT", "465")
    monkeypatch.delenv("FACEBOOK_APP_ID", raising=False)
    app = create_app(instance_path=str(tmp_path))
    assert app.config["BASE_URL"] == "https://desk.example"
    assert app.config["MAIL_PORT"] == 465
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["FACEBOOK_SANDBOX"] is True  # no app id: the built-in Facebook
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'pagedesk.db'}"


def test_a_real_app_id_turns_the_sandbox_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FACEBOOK_APP_ID", "1234")
    assert create_app(instance_path=str(tmp_path)).config["FACEBOOK_SANDBOX"] is False
    monkeypatch.setenv("FACEBOOK_SANDBOX", "1")
    assert create_app(instance_path=str(tmp_path)).config["FACEBOOK_SANDBOX"] is True


def test_the_vault_seals_and_refuses_a_changed_key() -> None:
    from webapp.helpdesk.vault import Vault, VaultError

    sealed = Vault("one key").seal("EAAtoken")
    assert "EAAtoken" not in sealed
    assert Vault("one key").open(sealed) == "EAAtoken"
    assert "EAAtoken" not in repr(Vault("one key"))
    with pytest.raises(VaultError, match="SECRET_KEY"):
        Vault("another key").open(sealed)
