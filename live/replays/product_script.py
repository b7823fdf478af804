"""The product script of a session folded up to an instant: what was pinned, at which price,
with how much stock, as a replay shows it.

Contract: `Script.apply` takes the durable events of the archive in ``seq`` order; the fold
only ever holds one value per product, so its size is bounded by the session's products, not
by its length. Stock levels keep the highest ``version`` seen (stock events of concurrent orders
are stored out of ``version`` order). `Script.view` fills in what the archive does not say
from the record: titles, the price a product opened with, its allocation before any order.
"""

from dataclasses import dataclass, field
from typing import Any

from live.db.models import ProductRow, SessionRow

#: Durable event types that change the state a replay shows.
SCRIPT_TYPES = frozenset({"pin", "unpin", "price", "stock", "sale_open", "sale_close"})
_SALE_FIELDS = ("sale_id", "sale_price_cents", "starts_at", "ends_at", "stock_cap")


@dataclass(slots=True)
class Script:
    """What the archived script changed up to some instant (nothing yet: the opening state)."""

    pinned_product_id: str | None = None
    prices: dict[str, int] = field(default_factory=dict)
    levels: dict[str, tuple[int, int]] = field(default_factory=dict)
    sales: dict[str, dict[str, Any]] = field(default_factory=dict)

    def copy(self) -> "Script":
        """An independent copy (checkpoints keep theirs while a fold goes on)."""
        return Script(
            self.pinned_product_id, dict(self.prices), dict(self.levels), dict(self.sales)
        )

    def to_json(self) -> dict[str, Any]:
        """The script as JSON (stored indexes keep their checkpoints so)."""
        return {
            "pinned": self.pinned_product_id,
            "prices": self.prices,
            "levels": {product_id: list(level) for product_id, level in self.levels.items()},
            "sales": self.sales,
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> "Script":
        """The script `to_json` gave; KeyError, TypeError or ValueError when malformed."""
        levels = {str(p): (int(level), int(rank)) for p, (level, rank) in value["levels"].items()}
        return cls(
            value["pinned"],
            {str(p): int(price) for p, price in value["prices"].items()},
            levels,
            {str(p): dict(sale) for p, sale in value["sales"].items()},
        )

    def apply(self, event: dict[str, Any]) -> None:
        """Fold one durable event (events of other types change nothing)."""
        kind = event.get("type")
        product_id = event.get("product_id")
        if kind == "pin" and isinstance(product_id, str):
            self.pinned_product_id = product_id
        elif kind == "unpin":
            self.pinned_product_id = None
        elif kind == "price" and isinstance(product_id, str):
            price = event.get("price_cents")
            if isinstance(price, int):
                self.prices[product_id] = price
        elif kind == "stock":
            self._stock(event)
        elif kind == "sale_open" and isinstance(product_id, str):
            self.sales[product_id] = {name: event.get(name) for name in _SALE_FIELDS}
        elif kind == "sale_close" and isinstance(product_id, str):
            self.sales.pop(product_id, None)

    def _stock(self, event: dict[str, Any]) -> None:
        levels = event.get("levels")
        version = event.get("version")
        # Events without a version (none are written so now) count as the newest.
        rank = version if isinstance(version, int) else 1 << 62
        if not isinstance(levels, dict):
            return
        for product_id, level in levels.items():
            if not isinstance(level, int) or str(product_id).startswith("sale:"):
                continue
            known = self.levels.get(product_id)
            if known is None or rank >= known[1]:
                self.levels[product_id] = (level, rank)

    def view(self, session: SessionRow, products: list[ProductRow], *, t_ms: int) -> dict[str, Any]:
        """The state fields of a replay frame at ``t_ms``: ``pinned_product_id``, ``product``
        (the pinned product's card, or None) and ``products`` (those added by then)."""
        started = session.started_ms or 0
        shown = [
            self._product(row)
            for row in products
            if row.created_ms - started <= t_ms or row.id in self.levels
        ]
        card = next((p for p in shown if p["product_id"] == self.pinned_product_id), None)
        return {"pinned_product_id": self.pinned_product_id, "product": card, "products": shown}

    def _product(self, row: ProductRow) -> dict[str, Any]:
        opening = (
            row.opening_price_cents if row.opening_price_cents is not None else row.price_cents
        )
        level = self.levels.get(row.id)
        card: dict[str, Any] = {
            "product_id": row.id,
            "title": row.title,
            "price_cents": self.prices.get(row.id, opening),
            "stock": row.stock if level is None else level[0],
            "sale": self.sales.get(row.id),
        }
        return card
