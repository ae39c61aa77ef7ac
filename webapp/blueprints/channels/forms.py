"""Channel forms."""

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length


class ChatChannelForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=80)])


def optional_id(value: object) -> int | None:
    """A select's value: "" for tickets, else a chat channel's id."""
    return int(value) if value not in (None, "", "None") else None  # type: ignore[call-overload]


class RoutingForm(FlaskForm):
    messenger_chat_id = SelectField("Messenger messages go to", coerce=optional_id)
    comments_chat_id = SelectField("Wall comments go to", coerce=optional_id)
