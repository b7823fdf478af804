"""The host adds an item and its variant from the panel, with an image; the viewer's bag
shows the item with its picture and its sizes."""

import re

from playwright.async_api import BrowserContext, expect

from tests.live.sessions.test_products import png
from tests.pages.browsing import open_page
from tests.support.servers import LiveServer
from tests.support.sessions import open_session
from tests.support.units import UNIT_S

WAIT_MS = 15_000 * UNIT_S


async def test_a_host_adds_a_variant_with_an_image(
    server: LiveServer, context: BrowserContext
) -> None:
    """Add "Silk shirt" size S with an uploaded image, then size M as its variant: the viewer's
    bag lists one shirt with the image and both sizes to pick."""
    opened = await open_session(server)
    sid = opened.session_id
    host = (
        await open_page(context, f"{server.base_url}/host?session={sid}&token={opened.host_token}")
    ).page
    viewer = (
        await open_page(
            context, f"{server.base_url}/watch/{sid}?token={server.token('viewer', 'vi')}"
        )
    ).page
    form = host.locator("#add-product")
    await host.locator("#products-card summary").click()
    for sku, size in (("SHIRT-S", "S"), ("SHIRT-M", "M")):
        await form.locator('input[name="title"]').fill("Silk shirt")
        await form.locator('input[name="sku"]').fill(sku)
        await form.locator('input[name="price"]').fill("259")
        await form.locator('input[name="stock"]').fill("5")
        await form.locator('input[name="options"]').fill(f"size={size}")
        if size == "S":
            await form.locator('input[name="image"]').set_input_files(
                {"name": "shirt.png", "mimeType": "image/png", "buffer": png(30, 30)}
            )
        else:
            await form.locator('select[name="variant_of"]').select_option(
                label="Silk shirt · size S"
            )
        await form.locator("button").click()
        await expect(
            host.locator(".product .name", has_text=f"Silk shirt · size {size}")
        ).to_be_visible(timeout=WAIT_MS)
    await viewer.locator("#bag-open").click()
    shirt = viewer.locator("#bag-list .bag-item", has_text="Silk shirt")
    await expect(shirt).to_contain_text("10 left · 2 options", timeout=WAIT_MS)
    await expect(shirt.locator("img.thumb")).to_have_attribute("src", re.compile("^/media/"))
    await shirt.click()
    await expect(viewer.locator("#detail-options .option")).to_have_text(["S", "M"])
