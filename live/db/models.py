"""Tables of the record. Every row carries its ``brand``; every query filters on it."""

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    """Declarative base of all tables."""


class SessionRow(Base):
    """A live session: draft (or scheduled, with ``starts_ms``) -> live -> ended."""

    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    brand: Mapped[str] = mapped_column(String(64), index=True)
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    host_id: Mapped[str] = mapped_column(String(64))
    pinned_product_id: Mapped[str | None] = mapped_column(String(32))
    created_ms: Mapped[int] = mapped_column(BigInteger)
    started_ms: Mapped[int | None] = mapped_column(BigInteger)
    ended_ms: Mapped[int | None] = mapped_column(BigInteger)
    #: Set when the session's archive was deleted (data lifecycle); replay answers 410 then.
    archive_deleted_ms: Mapped[int | None] = mapped_column(BigInteger, default=None)
    #: The session's cover image (an ``http(s)://`` URL or an upload under ``/media/``).
    cover_url: Mapped[str | None] = mapped_column(String(1000), default=None)
    #: The recorded video of the session, shown beside its replay.
    video_url: Mapped[str | None] = mapped_column(String(1000), default=None)
    #: When a scheduled session is announced to start (viewers reserve it until then).
    starts_ms: Mapped[int | None] = mapped_column(BigInteger, default=None)


class ProductRow(Base):
    """A product offered in a session, with its stock allocation.

    ``committed_qty`` counts units held or sold; the database refuses to let it exceed
    ``stock``, which makes the record the final judge of overselling. ``stock_generation``
    counts the rebuilds of the product's Redis counters: an order reserved on an older
    generation is refused by the record, so a rebuild never misses an order that commits
    after it read the record.

    A variant (a size, a colour) is a product of its own, with its own SKU, stock and limit,
    reserved like any product; ``group_id`` (the id of the group's first product) gathers the
    variants of one item and ``options`` (a JSON object, ``{"size": "M"}``) tells them apart.
    """

    __tablename__ = "products"
    __table_args__ = (
        UniqueConstraint("session_id", "sku"),
        Index("ix_products_group", "group_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id"), index=True)
    brand: Mapped[str] = mapped_column(String(64))
    sku: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    price_cents: Mapped[int] = mapped_column(BigInteger)
    stock: Mapped[int] = mapped_column(Integer)
    committed_qty: Mapped[int] = mapped_column(Integer, default=0)
    stock_generation: Mapped[int] = mapped_column(Integer, default=0)
    #: The guide's commission rate on this product in basis points; None: the brand's rate.
    commission_bp: Mapped[int | None] = mapped_column(Integer, default=None)
    limit_per_viewer: Mapped[int | None] = mapped_column(Integer)
    created_ms: Mapped[int] = mapped_column(BigInteger)
    #: The price the product was added with (``price_cents`` follows later changes); replays
    #: show it until the first archived ``price`` event. None for products added before 0012.
    opening_price_cents: Mapped[int | None] = mapped_column(BigInteger, default=None)
    #: The product's image (an ``http(s)://`` URL or an upload under ``/media/``).
    image_url: Mapped[str | None] = mapped_column(String(1000), default=None)
    group_id: Mapped[str | None] = mapped_column(String(32), default=None)
    options: Mapped[str | None] = mapped_column(Text, default=None)


class CouponRow(Base):
    """A coupon dropped in a session."""

    __tablename__ = "coupons"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id"), index=True)
    brand: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[int] = mapped_column(BigInteger)
    min_spend_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    quantity: Mapped[int] = mapped_column(Integer)
    per_viewer_limit: Mapped[int] = mapped_column(Integer, default=1)
    expires_ms: Mapped[int | None] = mapped_column(BigInteger)
    created_ms: Mapped[int] = mapped_column(BigInteger)
    #: A guide's nudge: the one viewer who may claim it (None: anyone in the room).
    viewer_id: Mapped[str | None] = mapped_column(String(64), default=None)
    #: A guide's nudge: the guide it came from, whose orders paid with it are.
    guide_id: Mapped[str | None] = mapped_column(String(64), default=None)


class CouponClaimRow(Base):
    """One coupon claimed by one viewer; ``order_id`` is set once it paid for an order."""

    __tablename__ = "coupon_claims"
    __table_args__ = (Index("ix_coupon_claims_viewer", "coupon_id", "viewer_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    coupon_id: Mapped[str] = mapped_column(ForeignKey("coupons.id"))
    session_id: Mapped[str] = mapped_column(String(32))
    brand: Mapped[str] = mapped_column(String(64))
    viewer_id: Mapped[str] = mapped_column(String(64))
    claimed_ms: Mapped[int] = mapped_column(BigInteger)
    order_id: Mapped[str | None] = mapped_column(String(32))


class OrderRow(Base):
    """An order; the attributed guide is written in the same transaction that creates it."""

    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("session_id", "viewer_id", "idempotency_key"),
        Index("ix_orders_guide", "brand", "guide_id", "created_ms", "id"),
        Index("ix_orders_clip", "clip_id"),
        Index("ix_orders_viewer", "brand", "viewer_id", "created_ms"),
        Index("ix_orders_webhook_pending", "webhook_pending", "created_ms"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    brand: Mapped[str] = mapped_column(String(64))
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id"), index=True)
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"))
    viewer_id: Mapped[str] = mapped_column(String(64))
    qty: Mapped[int] = mapped_column(Integer)
    unit_price_cents: Mapped[int] = mapped_column(BigInteger)
    discount_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    coupon_id: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    guide_id: Mapped[str | None] = mapped_column(String(64))
    guide_store: Mapped[str | None] = mapped_column(String(64))
    attributed_ms: Mapped[int | None] = mapped_column(BigInteger)
    idempotency_key: Mapped[str] = mapped_column(String(128))
    request_hash: Mapped[str] = mapped_column(String(64))
    created_ms: Mapped[int] = mapped_column(BigInteger)
    expires_ms: Mapped[int] = mapped_column(BigInteger)
    paid_ms: Mapped[int | None] = mapped_column(BigInteger)
    sale_id: Mapped[str | None] = mapped_column(String(32))
    #: The attributed guide's upstream guide, from the organisation when the order was written.
    upstream_guide_id: Mapped[str | None] = mapped_column(String(64), default=None)
    #: Earned when the order is paid, at the rates of that moment; kept after a refund.
    commission_cents: Mapped[int | None] = mapped_column(BigInteger, default=None)
    upstream_commission_cents: Mapped[int | None] = mapped_column(BigInteger, default=None)
    refunded_ms: Mapped[int | None] = mapped_column(BigInteger, default=None)
    #: The binding policy the attribution was made under (``last_touch`` / ``first_touch``).
    attribution_policy: Mapped[str | None] = mapped_column(String(16), default=None)
    #: The clip the order was bought from after its session ended (None: in the live room).
    clip_id: Mapped[str | None] = mapped_column(String(64), default=None)
    #: When a refund before shipping put the order's units back into stock (None: it did not).
    restocked_ms: Mapped[int | None] = mapped_column(BigInteger, default=None)
    #: True from the order's insert until a dispatcher wrote its ``order.reserved`` webhook
    #: event (`live.webhooks.fan_out`): the order row is its own outbox entry, so the purchase
    #: path writes nothing more for it.
    webhook_pending: Mapped[bool] = mapped_column(default=True)


class SaleRow(Base):
    """A flash sale on one product: a price, a time window, a cap and a per-viewer limit.

    ``sold_qty`` counts units held or sold in the sale; the database refuses to let it exceed
    ``stock_cap``, as ``products.committed_qty`` does for the product: with conditional updates,
    and a CHECK, which fails a whole statement that would take the sale past its cap (the order
    writer's one-statement batch, `live.commerce.order_statements`).
    """

    __tablename__ = "sales"
    __table_args__ = (CheckConstraint("sold_qty <= stock_cap", name="ck_sales_sold_within_cap"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id"), index=True)
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"))
    brand: Mapped[str] = mapped_column(String(64))
    sale_price_cents: Mapped[int] = mapped_column(BigInteger)
    starts_ms: Mapped[int] = mapped_column(BigInteger)
    ends_ms: Mapped[int] = mapped_column(BigInteger)
    stock_cap: Mapped[int] = mapped_column(Integer)
    sold_qty: Mapped[int] = mapped_column(Integer, default=0)
    per_viewer_limit: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    created_ms: Mapped[int] = mapped_column(BigInteger)
    closed_ms: Mapped[int | None] = mapped_column(BigInteger)


class PaymentRow(Base):
    """A payment notification accepted for an order; ``provider_txn_id`` deduplicates."""

    __tablename__ = "payments"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    brand: Mapped[str] = mapped_column(String(64))
    provider_txn_id: Mapped[str] = mapped_column(String(128), unique=True)
    paid_amount_cents: Mapped[int] = mapped_column(BigInteger)
    received_ms: Mapped[int] = mapped_column(BigInteger)
    #: Who took the money: ``notify`` (the brand's backend), ``dev`` or ``wechat``.
    provider: Mapped[str] = mapped_column(String(16), default="notify", server_default="notify")
    #: The provider's refund, once one was asked for (``POST /api/orders/{id}/refund``).
    refund_id: Mapped[str | None] = mapped_column(String(64), default=None)


class BrandPolicyRow(Base):
    """A brand's live-room rules: banned words (JSON list), allowed origins (JSON list) and the
    language of its pages (``en``, ``zh-CN``; NULL: the viewer's browser decides)."""

    __tablename__ = "brand_policies"

    brand: Mapped[str] = mapped_column(String(64), primary_key=True)
    banned_words: Mapped[str] = mapped_column(Text, default="[]")
    banned_mode: Mapped[str] = mapped_column(String(16), default="mask")
    allowed_origins: Mapped[str] = mapped_column(Text, default="[]")
    language: Mapped[str | None] = mapped_column(String(16), default=None)
    updated_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    #: How long a viewer's guide may be away before their questions go to the host panel.
    question_handoff_s: Mapped[int] = mapped_column(Integer, default=60)


class StoreRow(Base):
    """A store of a brand; guides belong to one."""

    __tablename__ = "stores"

    brand: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_ms: Mapped[int] = mapped_column(BigInteger)
    updated_ms: Mapped[int] = mapped_column(BigInteger)


class GuideRow(Base):
    """A shopping guide of a brand: ``id`` is the ``sub`` of the guide's tokens.

    ``upstream_guide_id`` names the guide who recruited this one (second-level commission).
    """

    __tablename__ = "guides"
    __table_args__ = (Index("ix_guides_brand_store", "brand", "store_id"),)

    brand: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    store_id: Mapped[str | None] = mapped_column(String(64))
    upstream_guide_id: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(default=True)
    created_ms: Mapped[int] = mapped_column(BigInteger)
    updated_ms: Mapped[int] = mapped_column(BigInteger)


class CommissionPlanRow(Base):
    """A brand's commission rates in basis points: the guide's, and the upstream guide's."""

    __tablename__ = "commission_plans"

    brand: Mapped[str] = mapped_column(String(64), primary_key=True)
    rate_bp: Mapped[int] = mapped_column(Integer)
    upstream_rate_bp: Mapped[int] = mapped_column(Integer)
    updated_ms: Mapped[int] = mapped_column(BigInteger)


class AttributionPolicyRow(Base):
    """A brand's binding policy (see ``live/guides/attribution.py``)."""

    __tablename__ = "attribution_policies"

    brand: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default="last_touch")
    window_s: Mapped[int] = mapped_column(Integer, default=7 * 86_400)
    protection_s: Mapped[int] = mapped_column(Integer, default=7 * 86_400)
    extend_on_order: Mapped[bool] = mapped_column(default=False)
    new_customers_only: Mapped[bool] = mapped_column(default=False)
    updated_ms: Mapped[int] = mapped_column(BigInteger, default=0)


class GuideBindingRow(Base):
    """A viewer bound to a guide by a share code (a touch that bound, not every touch)."""

    __tablename__ = "guide_bindings"
    __table_args__ = (Index("ix_guide_bindings_brand_guide", "brand", "guide_id", "bound_ms"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    brand: Mapped[str] = mapped_column(String(64))
    guide_id: Mapped[str] = mapped_column(String(64))
    viewer_id: Mapped[str] = mapped_column(String(64))
    session_id: Mapped[str] = mapped_column(String(32))
    bound_ms: Mapped[int] = mapped_column(BigInteger)


class ClipRow(Base):
    """A clip of a session: cut automatically per product explained (``source`` auto), or
    created by a host (host); hosts may edit either. Times are ``t_ms`` of the session."""

    __tablename__ = "clips"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    brand: Mapped[str] = mapped_column(String(64))
    session_id: Mapped[str] = mapped_column(String(32), index=True)
    product_id: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    from_ms: Mapped[int] = mapped_column(BigInteger)
    to_ms: Mapped[int] = mapped_column(BigInteger)
    source: Mapped[str] = mapped_column(String(8))
    created_ms: Mapped[int] = mapped_column(BigInteger)
    updated_ms: Mapped[int] = mapped_column(BigInteger)


class BrandRow(Base):
    """A brand (the tenant named by tokens' ``brand`` claim): its display name."""

    __tablename__ = "brands"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_ms: Mapped[int] = mapped_column(BigInteger)
    updated_ms: Mapped[int] = mapped_column(BigInteger)


class ClipViewRow(Base):
    """A viewer who opened or played a clip: one row per clip and viewer (views are counted
    once per viewer), with the time of the first view."""

    __tablename__ = "clip_views"

    clip_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    viewer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    brand: Mapped[str] = mapped_column(String(64))
    session_id: Mapped[str] = mapped_column(String(32))
    first_ms: Mapped[int] = mapped_column(BigInteger)


class WaitlistEntryRow(Base):
    """A viewer waiting for a unit of a sold-out product; ``id`` is its place in the queue.

    ``status``: ``waiting`` -> ``offered`` (a unit is held for the viewer: the order
    ``order_id``, status ``offered``) -> ``taken`` or ``passed``; or ``left`` (the viewer left
    the queue) or ``skipped`` (its per-viewer limit left no room for the unit). ``active`` is 1
    while waiting or offered and NULL afterwards, so a viewer waits once per product (unique
    product, viewer, active); ``slot`` numbers a viewer's active entries in a session from 1 to
    ``LIVE_WAITLIST_MAX_PER_VIEWER`` (unique session, viewer, slot), so concurrent joins cannot
    pass the limit. ``guide_id`` is the guide the viewer was bound to when joining.
    """

    __tablename__ = "waitlist_entries"
    __table_args__ = (
        UniqueConstraint("product_id", "viewer_id", "active"),
        UniqueConstraint("session_id", "viewer_id", "slot"),
        Index("ix_waitlist_entries_session", "session_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    brand: Mapped[str] = mapped_column(String(64))
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id"))
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"))
    viewer_id: Mapped[str] = mapped_column(String(64))
    guide_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    active: Mapped[int | None] = mapped_column(Integer)
    slot: Mapped[int | None] = mapped_column(Integer)
    order_id: Mapped[str | None] = mapped_column(String(32))
    joined_ms: Mapped[int] = mapped_column(BigInteger)
    updated_ms: Mapped[int] = mapped_column(BigInteger)


class ShortLinkRow(Base):
    """A guide's short share link: ``code`` (at most 32 characters, as a mini-program code's
    ``scene`` holds) stands for the signed ``share_code`` of one session or clip until it
    expires with that code or the guide revokes it."""

    __tablename__ = "short_links"
    __table_args__ = (Index("ix_short_links_guide", "brand", "guide_id", "session_id"),)

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    brand: Mapped[str] = mapped_column(String(64))
    guide_id: Mapped[str] = mapped_column(String(64))
    session_id: Mapped[str] = mapped_column(String(32))
    clip_id: Mapped[str | None] = mapped_column(String(64), default=None)
    share_code: Mapped[str] = mapped_column(Text)
    created_ms: Mapped[int] = mapped_column(BigInteger)
    expires_ms: Mapped[int] = mapped_column(BigInteger)
    revoked_ms: Mapped[int | None] = mapped_column(BigInteger, default=None)


class WebhookEndpointRow(Base):
    """A brand's webhook endpoint: where its events go, signed with ``secret``
    (``whsec_`` + base64, the Standard Webhooks form); ``event_types`` is a JSON list."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (Index("ix_webhook_endpoints_brand", "brand", "created_ms"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    brand: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(String(2048))
    secret: Mapped[str] = mapped_column(String(128))
    event_types: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(String(200), default="")
    #: Inactive endpoints keep their pending deliveries until they are active again.
    active: Mapped[bool] = mapped_column(default=True)
    created_ms: Mapped[int] = mapped_column(BigInteger)
    updated_ms: Mapped[int] = mapped_column(BigInteger)
    #: Set when the brand deleted the endpoint: it gets nothing more.
    deleted_ms: Mapped[int | None] = mapped_column(BigInteger, default=None)


class WebhookEventRow(Base):
    """The outbox: one event of a brand, written in the transaction of the change it reports.

    ``fanned_out`` turns true once a dispatcher created its deliveries (one per endpoint
    subscribed when the event happened); ``id`` is the ``webhook-id`` of every delivery of it.
    """

    __tablename__ = "webhook_events"
    __table_args__ = (
        Index("ix_webhook_events_fan_out", "fanned_out", "created_ms"),
        Index("ix_webhook_events_brand", "brand", "created_ms"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    brand: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(32))
    data: Mapped[str] = mapped_column(Text)
    created_ms: Mapped[int] = mapped_column(BigInteger)
    fanned_out: Mapped[bool] = mapped_column(default=False)


class WebhookDeliveryRow(Base):
    """One event to one endpoint: ``pending`` until ``delivered`` or ``dead`` (retries spent).

    A node delivering it holds ``lease_until_ms`` (taken by a conditional update); a node that
    dies mid-delivery leaves the lease to run out, and another node delivers it again.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "endpoint_id"),
        Index("ix_webhook_deliveries_due", "status", "brand", "next_ms"),
        Index("ix_webhook_deliveries_endpoint", "endpoint_id", "created_ms", "id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("webhook_events.id"))
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id"))
    brand: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_ms: Mapped[int] = mapped_column(BigInteger)
    #: Retries stop (``dead``) once the next one would fall past this plus the give-up time.
    window_ms: Mapped[int] = mapped_column(BigInteger)
    lease_until_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(32), default=None)
    last_status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    last_error: Mapped[str | None] = mapped_column(String(200), default=None)
    created_ms: Mapped[int] = mapped_column(BigInteger)
    delivered_ms: Mapped[int | None] = mapped_column(BigInteger, default=None)


class WebhookAttemptRow(Base):
    """The delivery log: one HTTP attempt of a delivery, with its answer or error."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_delivery", "delivery_id", "attempt"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    delivery_id: Mapped[str] = mapped_column(ForeignKey("webhook_deliveries.id"))
    brand: Mapped[str] = mapped_column(String(64))
    attempt: Mapped[int] = mapped_column(Integer)
    started_ms: Mapped[int] = mapped_column(BigInteger)
    duration_ms: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    error: Mapped[str | None] = mapped_column(String(200), default=None)
    node_id: Mapped[str] = mapped_column(String(32))


class GuideQuestionRow(Base):
    """A viewer's question, routed to their guide (``guide_id``) or to the host (None)."""

    __tablename__ = "guide_questions"
    __table_args__ = (Index("ix_guide_questions_session", "session_id", "asked_ms"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    brand: Mapped[str] = mapped_column(String(64))
    session_id: Mapped[str] = mapped_column(String(32))
    viewer_id: Mapped[str] = mapped_column(String(64))
    viewer_name: Mapped[str | None] = mapped_column(String(200), default=None)
    guide_id: Mapped[str | None] = mapped_column(String(64), default=None)
    #: The room comment it came from (None: asked privately with "ask my guide").
    comment_id: Mapped[str | None] = mapped_column(String(32), default=None)
    text: Mapped[str] = mapped_column(Text)
    asked_ms: Mapped[int] = mapped_column(BigInteger)
    answer: Mapped[str | None] = mapped_column(Text, default=None)
    answered_by: Mapped[str | None] = mapped_column(String(64), default=None)
    answered_ms: Mapped[int | None] = mapped_column(BigInteger, default=None)


class GuideBudgetRow(Base):
    """The coupons a guide may send in a session: how many, and their total value."""

    __tablename__ = "guide_budgets"

    session_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    guide_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    brand: Mapped[str] = mapped_column(String(64))
    count: Mapped[int] = mapped_column(Integer)
    value_cap_cents: Mapped[int] = mapped_column(BigInteger)
    updated_ms: Mapped[int] = mapped_column(BigInteger)


class ReservationRow(Base):
    """A viewer's reservation (预约) of a scheduled session: one row per session and viewer
    (unique), so a repeated or concurrent reservation is the same one; cancelling sets
    ``status`` to ``cancelled`` and reserving again makes it ``active`` again.

    ``guide_id`` is the guide the viewer was bound to when reserving (under the brand's
    binding policy, as a join through the same link binds). ``lead_reminded_ms`` and
    ``start_reminded_ms`` are the durable claims of its two reminders: set by the one
    conditional update that also writes the ``session.reminder`` event, so each is sent once
    over all nodes, and a reservation cancelled and made again is not reminded twice.
    """

    __tablename__ = "reservations"
    __table_args__ = (
        UniqueConstraint("session_id", "viewer_id"),
        Index("ix_reservations_guide", "brand", "guide_id", "session_id"),
        Index("ix_reservations_session", "session_id", "status"),
        # A reminder pass looks up the not yet reminded reservations of due sessions: with
        # these it never walks the ones already reminded, however many a session has.
        Index("ix_reservations_lead_due", "session_id", "lead_reminded_ms"),
        Index("ix_reservations_start_due", "session_id", "start_reminded_ms"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    brand: Mapped[str] = mapped_column(String(64))
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id"))
    viewer_id: Mapped[str] = mapped_column(String(64))
    viewer_name: Mapped[str | None] = mapped_column(String(200), default=None)
    guide_id: Mapped[str | None] = mapped_column(String(64), default=None)
    guide_store: Mapped[str | None] = mapped_column(String(64), default=None)
    status: Mapped[str] = mapped_column(String(16))
    created_ms: Mapped[int] = mapped_column(BigInteger)
    updated_ms: Mapped[int] = mapped_column(BigInteger)
    lead_reminded_ms: Mapped[int | None] = mapped_column(BigInteger, default=None)
    start_reminded_ms: Mapped[int | None] = mapped_column(BigInteger, default=None)


class ReminderPolicyRow(Base):
    """A brand's reminder lead time: how long before a scheduled start reservations are
    reminded (``LIVE_REMINDER_LEAD_S`` until the brand sets its own)."""

    __tablename__ = "reminder_policies"

    brand: Mapped[str] = mapped_column(String(64), primary_key=True)
    lead_s: Mapped[int] = mapped_column(Integer)
    updated_ms: Mapped[int] = mapped_column(BigInteger)
