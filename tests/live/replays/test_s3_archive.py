"""The app archiving to S3 (a local S3 server) and replaying from it."""

import aioboto3
import pytest

from tests.support.clients import Room
from tests.support.polling import eventually
from tests.support.s3 import S3Server
from tests.support.servers import LiveServer, ServerWith
from tests.support.sessions import open_session
from tests.support.units import UNIT_S


@pytest.fixture
async def s3_server_app(server_with: ServerWith, s3_server: S3Server, unique_id: str) -> LiveServer:
    """An app whose LIVE_ARCHIVE_URL is s3://bucket/prefix on the local S3 server."""
    bucket = f"live-{unique_id}"
    async with aioboto3.Session().client("s3", endpoint_url=s3_server.endpoint_url) as client:
        await client.create_bucket(Bucket=bucket)
    return await server_with(
        archive_url=f"s3://{bucket}/archive", s3_endpoint_url=s3_server.endpoint_url
    )


async def test_session_is_archived_to_s3_and_replayed(
    s3_server_app: LiveServer, s3_server: S3Server
) -> None:
    """Events and comments land as S3 objects with a manifest; replay reads them back."""
    server = s3_server_app
    opened = await open_session(server)
    room = await Room.join(server.ws_url(opened.session_id, server.token("viewer", "v")))
    await room.wait_type("snapshot")
    for n in range(3):
        await room.send({"type": "comment", "text": f"c{n}", "ref": str(n)})
        await room.wait_type("ack")
    async with server.client(opened.host_token) as host:
        await host.post(
            f"/api/sessions/{opened.session_id}/pin", json={"product_id": opened.product_id}
        )
        await host.post(f"/api/sessions/{opened.session_id}/end")

        async def archived() -> bool:
            answer = await host.get(f"/api/sessions/{opened.session_id}/replay")
            return answer.status_code == 200

        await eventually(archived, timeout_s=20 * UNIT_S)
        events = (await host.get(f"/api/sessions/{opened.session_id}/replay")).json()
    assert [e["text"] for e in events if e["type"] == "comment"] == ["c0", "c1", "c2"]
    assert [e["type"] for e in events if "seq" in e] == ["started", "pin", "ended"]
    bucket = server.settings.archive_url.split("/")[2]
    async with aioboto3.Session().client("s3", endpoint_url=s3_server.endpoint_url) as client:
        listed = await client.list_objects_v2(
            Bucket=bucket, Prefix=f"archive/sessions/{opened.session_id}/"
        )
    names = [item["Key"] for item in listed.get("Contents", [])]
    assert f"archive/sessions/{opened.session_id}/manifest.json" in names
    assert any("/events/" in name for name in names)
    assert any("/comments/" in name for name in names)
    await room.close()
