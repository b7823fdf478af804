"""A brand's stores and guides: the admin API, CSV imports (HTTP and ``live org import``),
checks on stores and upstream guides, and brand and role isolation."""

import asyncio
from pathlib import Path

import pytest

from live.cli.main import main
from tests.support.servers import PAYMENT_SECRET, SECRET, LiveServer

GOOD_CSV = """kind,id,name,store_id,upstream_guide_id,active
store,sh-01,Shanghai Jing'an,,,
store,bj-02,Beijing Sanlitun,,,
guide,g-lead,Lin,sh-01,,
guide,g-new,Wei,sh-01,g-lead,true
guide,g-away,Zhou,bj-02,,false
"""


async def test_admin_builds_the_organisation_and_guides_read_only_themselves(
    server: LiveServer,
) -> None:
    """Stores and guides written through the API; a guide sees itself, nobody else's."""
    async with server.client(server.token("admin", "boss")) as admin:
        unnamed = await admin.get("/api/org/brand")
        assert unnamed.json() == {"brand": server.brand, "name": server.brand}
        named = await admin.put("/api/org/brand", json={"name": "Maison Lune"})
        assert named.json() == {"brand": server.brand, "name": "Maison Lune"}
        assert (await admin.get("/api/org/brand")).json()["name"] == "Maison Lune"
        store = await admin.put("/api/org/stores/sh-01", json={"name": "Shanghai"})
        assert store.status_code == 200, store.text
        lead = await admin.put("/api/org/guides/g-lead", json={"name": "Lin", "store_id": "sh-01"})
        assert lead.status_code == 200, lead.text
        new = await admin.put(
            "/api/org/guides/g-new",
            json={"name": "Wei", "store_id": "sh-01", "upstream_guide_id": "g-lead"},
        )
        assert new.json()["upstream_guide_id"] == "g-lead"
        renamed = await admin.put("/api/org/stores/sh-01", json={"name": "Shanghai Jing'an"})
        assert renamed.json()["name"] == "Shanghai Jing'an"
        listed = await admin.get("/api/org/guides", params={"store_id": "sh-01"})
        assert [g["guide_id"] for g in listed.json()["guides"]] == ["g-lead", "g-new"]
        stores = await admin.get("/api/org/stores")
        assert [(s["store_id"], s["name"]) for s in stores.json()["stores"]] == [
            ("sh-01", "Shanghai Jing'an")
        ]
    async with server.client(server.token("guide", "g-new")) as guide:
        me = await guide.get("/api/org/guides/g-new")
        assert (me.status_code, me.json()["store_id"]) == (200, "sh-01")
        other = await guide.get("/api/org/guides/g-lead")
        assert other.status_code == 404
        listing = await guide.get("/api/org/guides")
        assert listing.json()["error"]["code"] == "forbidden"
    async with server.client(server.token("admin", "rival", brand="rival-brand")) as rival:
        assert (await rival.get("/api/org/brand")).json()["name"] == "rival-brand"
        assert (await rival.get("/api/org/guides")).json() == {"guides": []}
        assert (await rival.get("/api/org/guides/g-lead")).status_code == 404
    async with server.client(server.token("viewer", "v")) as viewer:
        refused = await viewer.put("/api/org/stores/x", json={"name": "x"})
        assert refused.json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize(
    ("path", "body", "problem"),
    [
        ("/api/org/guides/g1", {"name": "A", "store_id": "nowhere"}, "no store nowhere"),
        ("/api/org/guides/g1", {"name": "A", "upstream_guide_id": "ghost"}, "no guide ghost"),
        ("/api/org/guides/g1", {"name": "A", "upstream_guide_id": "g1"}, "loop back to g1"),
        ("/api/org/guides/bad id", {"name": "A"}, "guide_id: 1-64 characters"),
        ("/api/org/stores/s1", {"name": ""}, "name must be a non-empty string"),
        ("/api/org/stores/s1", {"name": "x" * 201}, "name is limited to 200 characters"),
        ("/api/org/guides/g1", {"name": "A", "active": "yes"}, "active must be true or false"),
    ],
)
async def test_bad_writes_are_refused_with_a_reason(
    server: LiveServer, path: str, body: dict[str, object], problem: str
) -> None:
    """Unknown stores and guides, loops and malformed fields: 422, nothing written."""
    async with server.client(server.token("admin", "boss")) as admin:
        refused = await admin.put(path, json=body)
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["code"] == "invalid_request"
        assert problem in refused.json()["error"]["message"]
        assert (await admin.get("/api/org/guides")).json() == {"guides": []}


async def test_a_longer_upstream_loop_is_refused(server: LiveServer) -> None:
    """a -> b -> c, then making c's upstream a would loop: refused, c unchanged."""
    async with server.client(server.token("admin", "boss")) as admin:
        await admin.put("/api/org/guides/c", json={"name": "C"})
        await admin.put("/api/org/guides/b", json={"name": "B", "upstream_guide_id": "c"})
        await admin.put("/api/org/guides/a", json={"name": "A", "upstream_guide_id": "b"})
        looped = await admin.put("/api/org/guides/c", json={"name": "C", "upstream_guide_id": "a"})
        assert "loop back to c" in looped.json()["error"]["message"]
        assert (await admin.get("/api/org/guides/c")).json()["upstream_guide_id"] is None


async def test_csv_import_writes_everything_or_nothing(server: LiveServer) -> None:
    """A good file is written whole; a file with bad lines names each and writes nothing."""
    bad = (
        GOOD_CSV.replace("g-away,Zhou,bj-02", "g-away,Zhou,nowhere")
        + "guide,g-lead,Lin again,sh-01,,\nshop,x,X,,,\nguide,g-odd,Odd,,,maybe\n"
    )
    async with server.client(server.token("admin", "boss")) as admin:
        refused = await admin.post("/api/org/import", content=bad.encode())
        assert refused.status_code == 422, refused.text
        message = refused.json()["error"]["message"]
        for expected in (
            "line 7: guide g-lead is also on line 4",
            "line 8: kind must be store or guide",
            "line 9: active must be true or false",
        ):
            assert expected in message
        assert (await admin.get("/api/org/stores")).json() == {"stores": []}
        half_bad = GOOD_CSV.replace("g-away,Zhou,bj-02", "g-away,Zhou,nowhere")
        refused = await admin.post("/api/org/import", content=half_bad.encode())
        assert "line 6: no store nowhere" in refused.json()["error"]["message"]
        assert (await admin.get("/api/org/guides")).json() == {"guides": []}
        imported = await admin.post("/api/org/import", content=GOOD_CSV.encode())
        assert imported.json() == {"stores": 2, "guides": 3}
        guides = {g["guide_id"]: g for g in (await admin.get("/api/org/guides")).json()["guides"]}
        assert guides["g-new"]["upstream_guide_id"] == "g-lead"
        assert guides["g-away"]["active"] is False
        header = await admin.post("/api/org/import", content=b"id,name\nx,y\n")
        assert "line 1: the header must be" in header.json()["error"]["message"]


async def test_live_org_import_command(
    server: LiveServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``live org import FILE --brand B``: exit 1 and nothing written on problems, 0 after."""
    monkeypatch.setenv("LIVE_DATA_DIR", str(tmp_path / "cli"))
    monkeypatch.setenv("LIVE_DATABASE_URL", server.settings.database_url)
    monkeypatch.setenv("LIVE_REDIS_URL", server.settings.redis_url or "")
    monkeypatch.setenv("LIVE_SECRET", SECRET)
    monkeypatch.setenv("LIVE_PAYMENT_SECRET", PAYMENT_SECRET)
    bad = tmp_path / "bad.csv"
    bad.write_text(GOOD_CSV.replace("g-lead,true", "g-ghost,true"), encoding="utf-8")
    args = ["org", "import", str(bad), "--brand", server.brand]
    assert await asyncio.to_thread(main, args) == 1
    assert "bad.csv: line 5: no guide g-ghost" in capsys.readouterr().err
    good = tmp_path / "good.csv"
    good.write_text(GOOD_CSV, encoding="utf-8")
    args = ["org", "import", str(good), "--brand", server.brand]
    assert await asyncio.to_thread(main, args) == 0
    assert "imported 2 stores and 3 guides" in capsys.readouterr().out
    missing = ["org", "import", str(tmp_path / "none.csv"), "--brand", server.brand]
    assert await asyncio.to_thread(main, missing) == 2
    async with server.client(server.token("admin", "boss")) as admin:
        assert len((await admin.get("/api/org/guides")).json()["guides"]) == 3
