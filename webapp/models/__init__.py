"""The database tables, one module per area; every name is importable from here."""

from webapp.models.accounts import LoginAttempt, Role, User
from webapp.models.base import new_session_token, utcnow
from webapp.models.channels import Channel, ChannelStatus, ChatChannel, PendingConnection
from webapp.models.conversations import (
    FILTERED,
    Contact,
    Conversation,
    ConversationStatus,
    Direction,
    Message,
    MessageKind,
    Mode,
    Route,
    Source,
)
from webapp.models.operations import JobLock, JobRun, MailLog, MailStatus, Notice
from webapp.models.outbox import OutboundStatus, Upload
from webapp.models.webhooks import EventStatus, WebhookDelivery, WebhookEvent

__all__ = [
    "FILTERED",
    "Channel",
    "ChannelStatus",
    "ChatChannel",
    "Contact",
    "Conversation",
    "ConversationStatus",
    "Direction",
    "EventStatus",
    "JobLock",
    "JobRun",
    "LoginAttempt",
    "MailLog",
    "MailStatus",
    "Message",
    "MessageKind",
    "Mode",
    "Notice",
    "OutboundStatus",
    "PendingConnection",
    "Role",
    "Route",
    "Source",
    "Upload",
    "User",
    "WebhookDelivery",
    "WebhookEvent",
    "new_session_token",
    "utcnow",
]
