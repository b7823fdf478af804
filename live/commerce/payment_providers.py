"""Payment providers: who takes a viewer's money for an order, behind one interface.

Contract: `PaymentProvider.prepay` answers what the client needs to pay a reserved order (a
page to open, or the parameters of the mini program's ``wx.requestPayment``); asking again for
the same order answers the same payment, never a second one. The provider reports a payment
with a notification the server verifies (signature, decryption) before
`live.commerce.payments.notify` records it, exactly once however many notifications arrive.
`refund` asks the provider to give a paid order's money back; the refund is named after the
order, so asking twice refunds once. Implementations: `live.commerce.dev_pay` (``live demo``)
and `live.commerce.wechat_pay` (WeChat Pay API v3).
"""

from dataclasses import dataclass
from typing import Any, Protocol

from live.db.models import OrderRow, PaymentRow


@dataclass(frozen=True, slots=True)
class Payer:
    """Who pays: the WeChat ``openid`` of the viewer in the brand's app (None elsewhere)."""

    openid: str | None = None


@dataclass(frozen=True, slots=True)
class PaidNotice:
    """A verified notification of a payment, as `live.commerce.payments.notify` takes it."""

    order_id: str
    paid_amount_cents: int
    provider_txn_id: str


class PaymentProvider(Protocol):
    """One payment provider of the node (`open_provider`)."""

    #: Stored on the payments it takes (`PaymentRow.provider`).
    name: str

    async def prepay(self, order: OrderRow, *, title: str, payer: Payer) -> dict[str, Any]:
        """What the client needs to pay ``order`` (reserved); the same payment when repeated.

        Raises `ClientError`: ``invalid_request`` (a payer detail missing), ``conflict`` (the
        provider refused the order), ``unavailable`` (the provider cannot be reached)."""
        ...

    async def refund(self, order: OrderRow, payment: PaymentRow, *, reason: str) -> str:
        """Give ``payment`` back; returns the provider's refund id. Idempotent per order."""
        ...

    async def aclose(self) -> None:
        """Release connections; the provider is unusable afterwards."""
        ...
