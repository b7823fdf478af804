"""The development payment provider (``LIVE_PAYMENT_PROVIDER=dev``, on in ``live demo``): a
"pay" page instead of a bank, and the signed notification a real provider would send.

Contract: `prepay` answers the page (``/pay/{order_id}``); paying there sends
``POST /api/payments/notify`` signed with ``LIVE_PAYMENT_SECRET``, exactly as a brand's payment
backend does, so the order becomes paid (and its guide's commission earned) through the same
path as in production. A refund takes no money anywhere: it is recorded as done.
"""

import uuid
from typing import Any

from common import codec
from live.commerce.payment_providers import Payer
from live.commerce.payments import signature
from live.db.models import OrderRow, PaymentRow


class DevProvider:
    """Payments that always succeed, for development servers."""

    name = "dev"

    async def prepay(self, order: OrderRow, *, title: str, payer: Payer) -> dict[str, Any]:
        """The development pay page of the order."""
        return {"pay_url": f"/pay/{order.id}"}

    async def refund(self, order: OrderRow, payment: PaymentRow, *, reason: str) -> str:
        """Nothing to give back: the development provider took no money."""
        return f"dev-refund-{order.id}"

    async def aclose(self) -> None:
        """Nothing to release."""


def notification(payment_secret: str, order: OrderRow) -> tuple[bytes, str]:
    """The body of a notification paying ``order`` in full, and its ``X-Signature``."""
    body = codec.encode(
        {
            "order_id": order.id,
            "paid_amount_cents": order.amount_cents,
            "provider_txn_id": f"dev-{uuid.uuid4().hex}",
        }
    )
    return body, signature(payment_secret, body)
