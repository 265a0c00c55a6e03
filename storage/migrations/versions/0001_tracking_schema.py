"""tracking schema

Revision ID: 0001
Revises:
Create Date: 2026-11-28 17:46:05.483684
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import precursor_watch.storage.types

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "platforms",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False, comment="platform name as in ListingItem.platform"),
        sa.Column("closed_on", sa.Date(), nullable=True, comment="logical date its closure was observed"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platforms")),
        sa.UniqueConstraint("name", name=op.f("uq_platforms_name")),
    )
    op.create_table(
        "accounts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("platform_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("account_key", sa.String(length=200), nullable=False, comment="the platform's own seller id"),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["platform_id"], ["platforms.id"], name=op.f("fk_accounts_platform_id_platforms"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("platform_id", "account_key", name=op.f("uq_accounts_platform_id_account_key")),
    )
    op.create_table(
        "crawl_runs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("platform_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("crawl_date", sa.Date(), nullable=False),
        sa.Column("closed", sa.Boolean(), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False, comment="fetch attempts, failed ones included"),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False, comment="failed fetches by kind, e.g. {'http_5xx': 3}"),
        sa.Column("error_rate", sa.Float(), nullable=False, comment="failed fetches / pages"),
        sa.Column(
            "healthy",
            sa.Boolean(),
            nullable=False,
            comment="closed and error_rate <= threshold at close; only healthy runs count toward absence",
        ),
        sa.ForeignKeyConstraint(
            ["platform_id"], ["platforms.id"], name=op.f("fk_crawl_runs_platform_id_platforms"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crawl_runs")),
        sa.UniqueConstraint("platform_id", "crawl_date", name=op.f("uq_crawl_runs_platform_id_crawl_date")),
    )
    op.create_table(
        "notices",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("platform_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=False, comment="e.g. http, email, export"),
        sa.Column("sent_at", precursor_watch.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ticket", sa.String(length=200), nullable=True, comment="platform's ticket id from its answer"),
        sa.Column("response", sa.JSON(), nullable=False, comment="platform's answer as received"),
        sa.ForeignKeyConstraint(
            ["platform_id"], ["platforms.id"], name=op.f("fk_notices_platform_id_platforms"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notices")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_notices_idempotency_key")),
    )
    op.create_table(
        "stores",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("platform_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("store_key", sa.String(length=200), nullable=False, comment="the platform's own store id"),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["platform_id"], ["platforms.id"], name=op.f("fk_stores_platform_id_platforms"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stores")),
        sa.UniqueConstraint("platform_id", "store_key", name=op.f("uq_stores_platform_id_store_key")),
    )
    op.create_table(
        "listings",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("platform_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("listing_key", sa.String(length=200), nullable=False, comment="the platform's own listing id"),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("store_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("first_seen_on", sa.Date(), nullable=False),
        sa.Column("last_seen_on", sa.Date(), nullable=False, comment="latest crawl date with a live sighting"),
        sa.Column("content_sha256", sa.String(length=64), nullable=False, comment="hash of the latest snapshot"),
        sa.Column(
            "presence",
            sa.String(length=16),
            nullable=False,
            comment="cache of the state machine: active | removed (derived from events)",
        ),
        sa.Column(
            "review",
            sa.String(length=16),
            nullable=False,
            comment="cache of the state machine: none | flagged | confirmed | dismissed | reported",
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_listings_account_id_accounts"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["platform_id"], ["platforms.id"], name=op.f("fk_listings_platform_id_platforms"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["store_id"], ["stores.id"], name=op.f("fk_listings_store_id_stores"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_listings")),
        sa.UniqueConstraint("platform_id", "listing_key", name=op.f("uq_listings_platform_id_listing_key")),
    )
    with op.batch_alter_table("listings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_listings_account_id"), ["account_id"], unique=False)
        batch_op.create_index("ix_listings_platform_presence", ["platform_id", "presence"], unique=False)
        batch_op.create_index(batch_op.f("ix_listings_store_id"), ["store_id"], unique=False)
        batch_op.create_index("ix_listings_url", ["url"], unique=False)

    op.create_table(
        "notice_listings",
        sa.Column("notice_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("listing_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["listing_id"], ["listings.id"], name=op.f("fk_notice_listings_listing_id_listings"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["notice_id"], ["notices.id"], name=op.f("fk_notice_listings_notice_id_notices"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("notice_id", "listing_id", name=op.f("pk_notice_listings")),
    )
    op.create_table(
        "observations",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("crawl_run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "listing_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
            comment="null for a gone page of a listing never seen alive",
        ),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False, comment="seen | gone"),
        sa.Column("gone_reason", sa.String(length=20), nullable=True, comment="GoneItem.reason for kind=gone"),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("content_sha256", sa.String(length=64), nullable=True),
        sa.Column("evidence_file", sa.Text(), nullable=True, comment="WARC file relative to the data dir"),
        sa.Column("evidence_record", sa.Text(), nullable=True, comment="WARC-Record-ID"),
        sa.Column("evidence_sha256", sa.String(length=64), nullable=True, comment="SHA-256 of the HTTP payload"),
        sa.ForeignKeyConstraint(
            ["crawl_run_id"],
            ["crawl_runs.id"],
            name=op.f("fk_observations_crawl_run_id_crawl_runs"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["listing_id"], ["listings.id"], name=op.f("fk_observations_listing_id_listings"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_observations")),
        sa.UniqueConstraint("crawl_run_id", "url", name=op.f("uq_observations_crawl_run_id_url")),
    )
    with op.batch_alter_table("observations", schema=None) as batch_op:
        batch_op.create_index("ix_observations_listing_run", ["listing_id", "crawl_run_id"], unique=False)

    op.create_table(
        "relist_links",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("original_listing_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("new_listing_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("method", sa.String(length=24), nullable=False, comment="text | contact | account_substances"),
        sa.Column(
            "similarity",
            sa.Float(),
            nullable=False,
            comment="estimated Jaccard for text, shared-handle Jaccard for contact, 1.0 otherwise",
        ),
        sa.Column("detected_on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["new_listing_id"],
            ["listings.id"],
            name=op.f("fk_relist_links_new_listing_id_listings"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["original_listing_id"],
            ["listings.id"],
            name=op.f("fk_relist_links_original_listing_id_listings"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_relist_links")),
        sa.UniqueConstraint("new_listing_id", name=op.f("uq_relist_links_new_listing_id")),
    )
    with op.batch_alter_table("relist_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_relist_links_original_listing_id"), ["original_listing_id"], unique=False)

    op.create_table(
        "reviews",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("listing_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False, comment="confirmed | dismissed"),
        sa.Column("reviewer", sa.String(length=200), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("decided_at", precursor_watch.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["listing_id"], ["listings.id"], name=op.f("fk_reviews_listing_id_listings"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reviews")),
    )
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reviews_listing_id"), ["listing_id"], unique=False)

    op.create_table(
        "snapshots",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("listing_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("seen_on", sa.Date(), nullable=False, comment="crawl date this content was first seen"),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("lang", sa.String(length=8), nullable=True),
        sa.Column("price", sa.String(length=40), nullable=True),
        sa.Column("currency", sa.String(length=8), nullable=True),
        sa.Column("seller_name", sa.String(length=200), nullable=True),
        sa.Column("contacts", sa.JSON(), nullable=False, comment="normalised contact handles found on the page"),
        sa.Column("location", sa.String(length=200), nullable=True),
        sa.Column("posted_at", sa.String(length=40), nullable=True),
        sa.Column(
            "evidence_sha256", sa.String(length=64), nullable=True, comment="payload hash of the page it came from"
        ),
        sa.ForeignKeyConstraint(
            ["listing_id"], ["listings.id"], name=op.f("fk_snapshots_listing_id_listings"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_snapshots")),
        sa.UniqueConstraint("listing_id", "content_sha256", name=op.f("uq_snapshots_listing_id_content_sha256")),
    )
    op.create_table(
        "detections",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("snapshot_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("model_version", sa.String(length=40), nullable=False),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("substances", sa.JSON(), nullable=False, comment="primary CAS ids (or dicts with an 'id')"),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["snapshot_id"], ["snapshots.id"], name=op.f("fk_detections_snapshot_id_snapshots"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_detections")),
        sa.UniqueConstraint("snapshot_id", "model_version", name=op.f("uq_detections_snapshot_id_model_version")),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False, comment="logical date"),
        sa.Column(
            "occurred_at",
            precursor_watch.storage.types.UTCDateTime(timezone=True),
            nullable=False,
            comment="derived from the logical date, never wall clock",
        ),
        sa.Column("platform_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("store_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "listing_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
            comment="null for account/store/platform closures",
        ),
        sa.Column(
            "cause",
            sa.String(length=20),
            nullable=True,
            comment="removal cause, e.g. not_found, silent, account_closed",
        ),
        sa.Column(
            "evidence_sha256",
            sa.String(length=64),
            nullable=True,
            comment="payload hash of the page that evidences the event",
        ),
        sa.Column("observation_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("snapshot_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("detection_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("review_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("notice_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "related_listing_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
            comment="relisted_as: the new listing",
        ),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_events_account_id_accounts"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["detection_id"], ["detections.id"], name=op.f("fk_events_detection_id_detections"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["listing_id"], ["listings.id"], name=op.f("fk_events_listing_id_listings"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["notice_id"], ["notices.id"], name=op.f("fk_events_notice_id_notices"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["observation_id"],
            ["observations.id"],
            name=op.f("fk_events_observation_id_observations"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["platform_id"], ["platforms.id"], name=op.f("fk_events_platform_id_platforms"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["related_listing_id"],
            ["listings.id"],
            name=op.f("fk_events_related_listing_id_listings"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["review_id"], ["reviews.id"], name=op.f("fk_events_review_id_reviews"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["snapshot_id"], ["snapshots.id"], name=op.f("fk_events_snapshot_id_snapshots"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["store_id"], ["stores.id"], name=op.f("fk_events_store_id_stores"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_kind_on", ["kind", "occurred_on"], unique=False)
        batch_op.create_index("ix_events_listing_id", ["listing_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_listing_id")
        batch_op.drop_index("ix_events_kind_on")

    op.drop_table("events")
    op.drop_table("detections")
    op.drop_table("snapshots")
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reviews_listing_id"))

    op.drop_table("reviews")
    with op.batch_alter_table("relist_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_relist_links_original_listing_id"))

    op.drop_table("relist_links")
    with op.batch_alter_table("observations", schema=None) as batch_op:
        batch_op.drop_index("ix_observations_listing_run")

    op.drop_table("observations")
    op.drop_table("notice_listings")
    with op.batch_alter_table("listings", schema=None) as batch_op:
        batch_op.drop_index("ix_listings_url")
        batch_op.drop_index(batch_op.f("ix_listings_store_id"))
        batch_op.drop_index("ix_listings_platform_presence")
        batch_op.drop_index(batch_op.f("ix_listings_account_id"))

    op.drop_table("listings")
    op.drop_table("stores")
    op.drop_table("notices")
    op.drop_table("crawl_runs")
    op.drop_table("accounts")
    op.drop_table("platforms")
