"""Inbox forms: the composer, notes, and one-field changes."""

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, HiddenField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from webapp.facebook import policy

KIND_LABELS = {
    policy.Kind.STANDARD: "Standard reply",
    policy.Kind.HUMAN_AGENT: "Human agent reply (up to 7 days)",
    policy.Kind.SUBSCRIPTION: "Subscription message",
}


class ReplyForm(FlaskForm):
    text = TextAreaField("Reply", validators=[Length(max=20000)])
    kind = RadioField(
        "Send as",
        choices=[SelectChoice(kind.value, label) for kind, label in KIND_LABELS.items()],
        default=policy.Kind.STANDARD.value,
    )
    attachment = FileField("Attach a file")
    attachment_url = StringField("…or a link to a file", validators=[Optional(), Length(max=1000)])
    split = BooleanField("Send it as several messages")
    confirmed = BooleanField("I confirm this message has no promotional or marketing content")
    client_key = HiddenField()


class PrivateReplyForm(FlaskForm):
    text = TextAreaField("Private reply", validators=[Length(max=20000)])
    client_key = HiddenField()


class NoteForm(FlaskForm):
    text = TextAreaField("Internal note", validators=[Length(max=10000)])


class StatusForm(FlaskForm):
    status = SelectField(
        "Status",
        choices=[
            SelectChoice("open", "Open"),
            SelectChoice("pending", "Pending"),
            SelectChoice("closed", "Closed"),
        ],
    )


class AssignForm(FlaskForm):
    assignee_id = SelectField("Assigned to", coerce=str)


class MoveForm(FlaskForm):
    chat_id = SelectField("Handle as", coerce=str)
