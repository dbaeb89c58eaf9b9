"""A message to the person names the need it tells about (none: the whole request, as its status
link), so the referral's page shows each holder only the messages about its own need

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


# The kinds of message about one need (person_messages.Kind); the status links are about the
# whole request.
ABOUT_ONE_NEED = (
    "person_accepted",
    "person_passed_on",
    "person_unmatched",
    "person_closed",
    "person_appointment",
)


def upgrade():
    with op.batch_alter_table("outbox_message") as batch_op:
        batch_op.add_column(sa.Column("referral_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_outbox_message_referral_id_referral"),
            "referral",
            ["referral_id"],
            ["id"],
        )
    # Messages written before: a request of one need names it; one of several cannot tell which
    # need a message was about, and its messages stay shown to each holder, as before.
    op.execute(
        sa.text(
            "UPDATE outbox_message SET referral_id = (SELECT min(r.id) FROM referral r"
            " WHERE r.request_id = outbox_message.request_id)"
            " WHERE kind IN :kinds AND (SELECT count(*) FROM referral r"
            " WHERE r.request_id = outbox_message.request_id) = 1"
        ).bindparams(sa.bindparam("kinds", list(ABOUT_ONE_NEED), expanding=True))
    )


def downgrade():
    with op.batch_alter_table("outbox_message") as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_outbox_message_referral_id_referral"), type_="foreignkey"
        )
        batch_op.drop_column("referral_id")
