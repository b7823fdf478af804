"""Screenshots of the three pages for the docs: `live demo` with simulated viewers and a coupon
drop, shot in the system's Chromium on a laptop and a tablet viewport.

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
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from playwright.sync_api import sync_playwright

OUT = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
VIEWPORTS = {"laptop": (1366, 860), "tablet": (820, 1180)}
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


def _post(url: str, token: str, body: dict[str, object]) -> None:
    request = urllib.request.Request(  # noqa: S310 (the demo on loopback)
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
        answer.read()


def main() -> int:
    """Run the demo, drop a coupon, shoot every page in every viewport."""
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
        base = f"http://127.0.0.1:{port}/api/sessions/{session}"
        time.sleep(WARM_UP_S / 2)  # the simulated viewers comment, like and buy meanwhile
        coupon = {"title": "¥50 off ¥300", "kind": "amount_off", "value": 5000,
                  "min_spend_cents": 30000, "quantity": 200}  # fmt: skip
        _post(f"{base}/coupons", host_token, coupon)
        time.sleep(WARM_UP_S / 2)
        OUT.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=ARGS)
            for device, (width, height) in VIEWPORTS.items():
                for name, url in urls.items():
                    context = browser.new_context(
                        viewport={"width": width, "height": height},
                        has_touch=device == "tablet",
                    )
                    page = context.new_page()
                    page.goto(url)
                    page.wait_for_timeout(4000)
                    target = OUT / f"{name.split()[0]}-{device}.png"
                    page.screenshot(path=str(target))
                    print(f"{target} {target.stat().st_size // 1024} KiB")
                    context.close()
            browser.close()
    finally:
        demo.send_signal(signal.SIGTERM)
        demo.wait(timeout=30)
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
