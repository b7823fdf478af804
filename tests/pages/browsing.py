"""Opening the app's pages in the browser, and what the page tests do besides browsing."""

import uuid
from dataclasses import dataclass, field

import orjson
from playwright.async_api import BrowserContext, Page

from tests.support.clients import sign
from tests.support.servers import LiveServer


@dataclass
class OpenPage:
    """A page, and the script errors it raised (a page test fails on any)."""

    page: Page
    errors: list[str] = field(default_factory=list)


async def open_page(context: BrowserContext, url: str) -> OpenPage:
    """Open ``url`` in a new tab, recording uncaught script errors."""
    page = await context.new_page()
    opened = OpenPage(page)
    page.on("pageerror", lambda error: opened.errors.append(str(error)))
    await page.goto(url)
    return opened


async def pay(server: LiveServer, order_id: str, amount_cents: int) -> None:
    """The payment provider's signed notification for an order."""
    body = orjson.dumps(
        {
            "order_id": order_id,
            "paid_amount_cents": amount_cents,
            # Unique: the PostgreSQL run shares one database across the suite.
            "provider_txn_id": f"txn-{uuid.uuid4().hex}",
        }
    )
    async with server.client() as provider:
        paid = await provider.post(
            "/api/payments/notify", content=body, headers={"X-Signature": sign(body)}
        )
    assert paid.json()["status"] == "paid", paid.text
