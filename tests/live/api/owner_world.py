"""The owner brand's world for tests that call every endpoint: a store, a guide, an ended
session with clips, a live session with orders, a flash sale and a lucky draw, and one session
to end."""

import uuid

from tests.support.servers import LiveServer
from tests.support.sessions import ended_with_clips, open_session


async def owner_world(node: LiveServer) -> dict[str, str]:
    """Every resource the actions name, owned by the node's brand."""
    uid = uuid.uuid4().hex[:6]
    ids = {"store": f"st-{uid}", "guide": f"gd-{uid}"}
    admin = node.client(node.token("admin", "a"))
    async with admin:
        csv = (
            "kind,id,name,store_id,upstream_guide_id,active\n"
            f"store,{ids['store']},Owner store,,,\n"
            f"guide,{ids['guide']},Owner guide,{ids['store']},,\n"
        )
        assert (await admin.post("/api/org/import", content=csv.encode())).status_code == 200
        ids["ended"], clips = await ended_with_clips(node)
        ids["clip"] = clips[0]
        clip = (await admin.get(f"/api/sessions/{ids['ended']}/clips/{ids['clip']}")).json()
        ids["ended_product"] = clip["product_id"]
    live = await open_session(node, stock=100, limit=50)
    doomed = await open_session(node)
    ids |= {"live": live.session_id, "product": live.product_id, "doomed": doomed.session_id}
    viewer = node.client(node.token("viewer", "viewer-1"))
    async with viewer:
        for name in ("order", "cancel_order"):
            placed = await viewer.post(
                f"/api/sessions/{live.session_id}/orders",
                json={"product_id": live.product_id, "qty": 1},
                headers={"Idempotency-Key": name},
            )
            assert placed.status_code == 201, placed.text
            ids[name] = placed.json()["order_id"]
    async with node.client(live.host_token) as host:
        sale = await host.post(
            f"/api/sessions/{live.session_id}/sales",
            json={
                "product_id": live.product_id,
                "sale_price_cents": 10,
                "stock_cap": 1,
                "duration_s": 600,
            },
        )
        assert sale.status_code == 201, sale.text
        ids["sale"] = sale.json()["sale_id"]
        draw = await host.post(
            f"/api/sessions/{live.session_id}/draws", json={"winners": 1, "duration_s": 600}
        )
        assert draw.status_code == 201, draw.text
        ids["draw"] = draw.json()["draw_id"]
    return ids
