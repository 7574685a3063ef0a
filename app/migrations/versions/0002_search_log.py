"""Search log, answer feedback and click events.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.create_table(
        "searches",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("lang", sa.String(16), nullable=True),
        sa.Column("filters", sa.JSON(), nullable=False),
        sa.Column("results", sa.JSON(), nullable=False),
        sa.Column("top_score", sa.Float(), nullable=True),
        sa.Column("no_good_match", sa.Boolean(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("endpoint", sa.String(16), nullable=False),
        sa.Column("client", sa.String(32), nullable=False),
        sa.Column("key_id", sa.String(16), nullable=True),
    )
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("search_id", sa.String(32), sa.ForeignKey("searches.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("article_id", sa.String(300), nullable=False),
        sa.Column("section", sa.String(300), nullable=True),
        sa.Column("helpful", sa.Boolean(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("key_id", sa.String(16), nullable=True),
        sa.UniqueConstraint("search_id", "article_id", name="feedback_one_vote"),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("search_id", sa.String(32), sa.ForeignKey("searches.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("article_id", sa.String(300), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("key_id", sa.String(16), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("events")
    op.drop_table("feedback")
    op.drop_table("searches")
