"""SMTP through Flask-Mailman with the ``MAIL_*`` settings; None without ``MAIL_SERVER``."""

from __future__ import annotations

import contextlib
import smtplib
from typing import Any

from flask import Flask
from flask_mailman import EmailMultiAlternatives

from webapp.extensions import mail
from webapp.helpdesk.mail import MailFailure

TIMEOUT_SECONDS = 20


class SmtpMailer:
    """Sends one message per SMTP connection (reminders are rare; retries are per message)."""

    def __init__(self, app: Flask) -> None:
        self.config = app.config

    def send(self, *, to: str, subject: str, text: str, html: str | None) -> None:
        """Hand the message to the mail server, or raise :class:`MailFailure`."""
        config = self.config
        connection = mail.get_connection(
            backend="smtp",
            host=config["MAIL_SERVER"],
            port=config["MAIL_PORT"],
            username=config["MAIL_USERNAME"] or None,
            password=config["MAIL_PASSWORD"] or None,
            use_tls=config["MAIL_USE_TLS"],
            use_ssl=config["MAIL_USE_SSL"],
            timeout=TIMEOUT_SECONDS,
        )
        try:
            connection.open()
            message = EmailMultiAlternatives(
                subject, text, config["MAIL_DEFAULT_SENDER"], [to], connection=connection
            )
            if html:
                message.attach_alternative(html, "text/html")
            message.send()
        except (smtplib.SMTPException, OSError, ValueError) as error:
            raise _failure(error, config["MAIL_SERVER"], config["MAIL_PORT"]) from None
        finally:
            _close(connection)


def _close(connection: Any) -> None:
    # Flask-Mailman leaves the socket open when a message is refused: close it here.
    smtp = connection.connection
    with contextlib.suppress(smtplib.SMTPException, OSError):
        connection.close()
    if smtp is not None:
        smtp.close()


def _failure(error: Exception, host: str, port: int) -> MailFailure:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in error.recipients.values()]
        answer = "; ".join(
            f"{c} {m.decode(errors='replace')}" for c, m in error.recipients.values()
        )
        return MailFailure(
            f"The mail server refused the address: {answer}", permanent=min(codes) >= 500
        )
    if isinstance(error, smtplib.SMTPResponseException):
        text = (
            error.smtp_error.decode(errors="replace")
            if isinstance(error.smtp_error, bytes)
            else str(error.smtp_error)
        )
        permanent = isinstance(error, smtplib.SMTPDataError) and error.smtp_code >= 500
        return MailFailure(
            f"The mail server answered {error.smtp_code} {text}", permanent=permanent
        )
    if isinstance(error, smtplib.SMTPException):
        return MailFailure(f"The mail server at {host}:{port} broke off: {error}")
    return MailFailure(f"The mail server at {host}:{port} could not be reached: {error}")


def mailer_for(app: Flask) -> SmtpMailer | None:
    """The SMTP mailer, or None: then email is only written to the mail log and the console."""
    return SmtpMailer(app) if app.config["MAIL_SERVER"] else None
