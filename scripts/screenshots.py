"""Screenshots of the pages for the docs: `live demo` with simulated viewers, a coupon drop and
a flash sale, shot in the system's Chromium on a phone and a laptop viewport: the host panel,
the guide workspace, the viewer's room and product bag, a clip's page; and a guide's poster.
The viewer's room, the guide workspace (phone) and the host panel (laptop) are shot again by a
browser that prefers Simplified Chinese (`*-zh-CN.png`).

    .venv/bin/python scripts/screenshots.py        # writes docs/screenshots/*.png
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from playwright.sync_api import Page, sync_playwright

OUT = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
VIEWPORTS = {"laptop": (1366, 860), "phone": (390, 844)}
#: The pages shot in Chinese too, and the viewport of each.
IN_CHINESE = {"viewer": "phone", "guide workspace": "phone", "host panel": "laptop"}
URL_LINE = re.compile(r"^\s+(host panel|guide workspace|viewer)\s+(http://\S+)$")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
#: Seconds the simulated viewers get to fill the room before the first shot.
WARM_UP_S = 20


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _call(url: str, token: str, body: dict[str, object] | None = None) -> Any:
    request = urllib.request.Request(  # noqa: S310 (the demo on loopback)
        url,
        data=None if body is None else json.dumps(body).encode(),
        method="GET" if body is None else "POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
        data = answer.read()
    return json.loads(data) if answer.headers.get_content_type() == "application/json" else data


def _clip_link(base: str, host_token: str, guide_token: str) -> str:
    """The guide's link to the first clip of the demo's ended session (once it is cut)."""
    ended = _call(f"{base}/api/sessions?status=ended", host_token)["items"][0]["id"]
    for _ in range(60):
        try:
            clips = _call(f"{base}/api/sessions/{ended}/clips", host_token)
            break
        except urllib.error.HTTPError:
            time.sleep(1)  # the archive of the ended session is still being written
    shared = _call(
        f"{base}/api/guides/me/share?session_id={ended}&clip_id={clips[0]['clip_id']}", guide_token
    )
    link: str = shared["url"]
    return link


def _shoot(page: Page, target: Path) -> None:
    page.screenshot(path=str(target))
    print(f"{target} {target.stat().st_size // 1024} KiB")


def main() -> int:
    """Run the demo, drop a coupon, open a flash sale, shoot every page in every viewport."""
    chromium = shutil.which("chromium")
    if chromium is None:
        print("screenshots: no chromium on the PATH (apt-get install -y chromium)", file=sys.stderr)
        return 2
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVE_")}
    data_dir = tempfile.mkdtemp(prefix="live-shots-")
    env["LIVE_DATA_DIR"] = data_dir
    port = _free_port()
    live = str(Path(sys.executable).parent / "live")
    demo = subprocess.Popen(  # noqa: S603 (fixed argv)
        [live, "demo", "--port", str(port), "--viewers", "12", "--seed", "7"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        urls: dict[str, str] = {}
        assert demo.stdout is not None
        for line in demo.stdout:
            match = URL_LINE.match(line.rstrip("\n"))
            if match:
                urls[match.group(1)] = match.group(2)
            if len(urls) == 3:
                break
        query = parse_qs(urlparse(urls["host panel"]).query)
        session, host_token = query["session"][0], query["token"][0]
        guide_token = parse_qs(urlparse(urls["guide workspace"]).query)["token"][0]
        viewer_token = parse_qs(urlparse(urls["viewer"]).query)["token"][0]
        root = f"http://127.0.0.1:{port}"
        base = f"{root}/api/sessions/{session}"
        time.sleep(WARM_UP_S / 2)  # the simulated viewers comment, like and buy meanwhile
        coupon = {"title": "¥50 off ¥300", "kind": "amount_off", "value": 5000,
                  "min_spend_cents": 30000, "quantity": 200}  # fmt: skip
        _call(f"{base}/coupons", host_token, coupon)
        products = _call(base, host_token)["products"]
        scarf = next(p for p in products if p["title"] == "Cashmere scarf")
        sale = {"product_id": scarf["product_id"], "sale_price_cents": 12900, "stock_cap": 30,
                "duration_s": 900}  # fmt: skip
        _call(f"{base}/sales", host_token, sale)
        time.sleep(WARM_UP_S / 2)
        clip = _clip_link(root, host_token, guide_token)
        pages = {**urls, "clip": f"{clip}&token={viewer_token}"}
        OUT.mkdir(parents=True, exist_ok=True)
        poster = _call(f"{root}/api/guides/me/poster.png?session_id={session}", guide_token)
        (OUT / "poster.png").write_bytes(poster)
        print(f"{OUT / 'poster.png'} {len(poster) // 1024} KiB")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=ARGS)
            for device, (width, height) in VIEWPORTS.items():
                for name, url in pages.items():
                    context = browser.new_context(
                        viewport={"width": width, "height": height},
                        has_touch=device == "phone",
                        is_mobile=device == "phone",
                    )
                    page = context.new_page()
                    page.goto(url)
                    page.wait_for_timeout(4000)
                    _shoot(page, OUT / f"{name.split()[0]}-{device}.png")
                    if name == "viewer":
                        page.locator("#bag-open").click()
                        page.wait_for_timeout(500)
                        _shoot(page, OUT / f"bag-{device}.png")
                        page.locator("#bag-list .bag-item").first.click()
                        page.wait_for_timeout(500)
                        _shoot(page, OUT / f"product-{device}.png")
                    context.close()
            for name, device in IN_CHINESE.items():
                width, height = VIEWPORTS[device]
                context = browser.new_context(
                    viewport={"width": width, "height": height},
                    has_touch=device == "phone",
                    is_mobile=device == "phone",
                    locale="zh-CN",
                )
                page = context.new_page()
                page.goto(urls[name])
                page.wait_for_timeout(4000)
                _shoot(page, OUT / f"{name.split()[0]}-{device}-zh-CN.png")
                context.close()
            browser.close()
    finally:
        demo.send_signal(signal.SIGTERM)
        demo.wait(timeout=30)
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
