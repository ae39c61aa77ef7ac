"""Shell commands: ``flask --app wsgi users ...``, ``jobs run NAME``, ``scheduler``."""

from __future__ import annotations

import secrets
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import func, select

from webapp import jobs
from webapp.extensions import db
from webapp.helpdesk import accounts
from webapp.helpdesk.errors import DomainError
from webapp.jobs import JOBS
from webapp.models import Role, User

DEMO_EMAIL = "admin@example.com"


users_group = AppGroup("users", help="Manage the people who can sign in.")


@users_group.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--password", required=True, help="At least 10 characters.")
@click.option("--name", default="", help="Shown to the team; defaults to the email's name.")
def create_user(email: str, role: str, password: str, name: str) -> None:
    """Add a person who can sign in."""
    try:
        user = accounts.create_user(
            db.session, email=email, name=name, role=Role(role), password=password
        )
    except DomainError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Created {user.role} {user.email}.")


@users_group.command("create-demo")
def create_demo() -> None:
    """Create a demo admin on an empty database, and say where its password is."""
    if db.session.scalar(select(func.count(User.id))):
        return
    password = secrets.token_urlsafe(12)
    accounts.create_user(
        db.session, email=DEMO_EMAIL, name="Demo Admin", role=Role.ADMIN, password=password
    )
    note = Path(current_app.instance_path) / "demo-admin.txt"
    note.touch(mode=0o600)
    note.write_text(f"email: {DEMO_EMAIL}\npassword: {password}\n")
    click.echo(
        f"\n  Demo admin created. Sign in at {current_app.config['BASE_URL']}/login\n"
        f"    email:    {DEMO_EMAIL}\n    password: {password}\n"
        f"  (kept in {note}; change it on the Team page)\n"
    )


jobs_group = AppGroup("jobs", help="Run Pagedesk's scheduled jobs by hand.")


@jobs_group.command("run")
@click.argument("name", type=click.Choice(list(JOBS)))
def run_job(name: str) -> None:
    """Run one job once, now, and print what it did."""
    outcome = jobs.run_job(current_app._get_current_object(), name, manual=True)  # type: ignore[attr-defined]
    click.echo(f"{name}: {outcome.outcome}\n{outcome.summary}")
    if outcome.outcome != "ok":
        raise SystemExit(1)


@jobs_group.command("list")
def list_jobs() -> None:
    """Every job, how often it runs and what it does."""
    for job in JOBS.values():
        click.echo(f"{job.name:16} every {job.every}  {job.description}")


@click.command("scheduler")
def scheduler() -> None:
    """Run the scheduled jobs in the foreground (use with SCHEDULER=off on the app servers)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    names = ", ".join(f"{job.name} every {job.every}" for job in JOBS.values())

    def running() -> None:
        click.echo(f"Pagedesk scheduler running ({names}). Ctrl+C stops it.")

    jobs.Scheduler(app).run_forever(started=running)
    click.echo("Scheduler stopped.")


def init_app(app: Flask) -> None:
    """Register the commands."""
    app.cli.add_command(users_group)
    app.cli.add_command(jobs_group)
    app.cli.add_command(scheduler)
