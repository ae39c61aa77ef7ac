"""Channel forms."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length


class ChatChannelForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=80)])


def optional_id(value: object) -> int | None:
    """A select's value: "" for tickets, else a chat channel's id."""
    return int(value) if value not in (None, "", "None") else None  # type: ignore[call-overload]


class RoutingForm(FlaskForm):
    messenger_chat_id = SelectField("Messenger messages go to", coerce=optional_id)
    comments_chat_id = SelectField("Wall comments go to", coerce=optional_id)


class MessagingRulesForm(FlaskForm):
    """Replying after 24 hours: the Human Agent tag, subscription messages, promotional words."""

    human_agent_enabled = BooleanField(
        "Use Facebook's Human Agent tag for late replies (up to 7 days)"
    )
    subscription_enabled = BooleanField("Subscription messages")
    subscription_use = StringField(
        "What Facebook approved this page for", validators=[Length(max=500)]
    )
    promotional_terms = TextAreaField("Words that mark a message as promotional")
