"""Open the built docs in headless Chromium with no network and check the diagrams are pictures.

    python scripts/docs_screenshots.py SITE_DIR [--out DIR]

Serves SITE_DIR (the output of ``mkdocs build``) on 127.0.0.1, opens each page that carries a
state diagram in Debian's Chromium (through chromedriver), with every host name but 127.0.0.1
resolving to nothing, and checks for each diagram that:

- the image loaded (``complete`` and a natural width), and is laid out at a readable size;
- a screenshot of it shows a drawing: enough dark pixels (lines and words) and not a blank box or
  a broken-image icon with its alt text;
- the page asked for nothing outside 127.0.0.1 (no CDN, no web font): it works offline and from
  mainland China.

Screenshots go to ``--out`` (default: ``SITE_DIR/../docs-screenshots``) for a person to look at.
Exits 1 on any failure. Needs the ``dev`` extra (selenium) and Debian's ``chromium`` and
``chromium-driver``; without them it fails under ``CI=true`` and says so, elsewhere it skips.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import shutil
import struct
import sys
import tempfile
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from selenium.webdriver import Chrome

# page (relative to the site) → the diagrams it must show
PAGES: dict[str, tuple[str, ...]] = {
    "workflows/": ("order", "aftersale"),
    "refunds/": ("refund",),
    "sla/": ("ticket",),
    "desk/": ("review_case",),
}
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
MIN_WIDTH = 300  # CSS pixels: a diagram squeezed below this cannot be read
MIN_INK = 0.01  # share of dark pixels in a drawing (a blank or broken image has almost none)


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Decode an 8-bit, non-interlaced RGB or RGBA PNG (what Chromium writes) into rows."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    position, idat = 8, b""
    width = height = channels = 0
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        position += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or colour not in (2, 6) or interlace:
                raise ValueError(f"unsupported PNG (depth {depth}, colour type {colour})")
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
    raw = zlib.decompress(idat)
    stride = width * channels
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        filter_type = raw[start]
        line = bytearray(raw[start + 1 : start + 1 + stride])
        for x in range(stride):
            left = line[x - channels] if x >= channels else 0
            up = previous[x]
            corner = previous[x - channels] if x >= channels else 0
            if filter_type == 1:
                line[x] = (line[x] + left) & 0xFF
            elif filter_type == 2:
                line[x] = (line[x] + up) & 0xFF
            elif filter_type == 3:
                line[x] = (line[x] + (left + up) // 2) & 0xFF
            elif filter_type == 4:
                guess = left + up - corner
                pa, pb, pc = abs(guess - left), abs(guess - up), abs(guess - corner)
                nearest = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[x] = (line[x] + nearest) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, channels, rows


def ink(data: bytes) -> float:
    """The share of a PNG's pixels that are dark (lines and words of a drawing)."""
    width, channels, rows = png_pixels(data)
    dark = sum(
        1
        for row in rows
        for x in range(0, width * channels, channels)
        if row[x] + row[x + 1] + row[x + 2] < 3 * 128
    )
    return dark / max(1, width * len(rows))


@contextmanager
def serve(site: Path) -> Iterator[str]:
    """Serve ``site`` on 127.0.0.1 on a free port; yields the base URL."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def check(site: Path, out: Path) -> list[str]:
    """Open each page and check its diagrams; returns the problems found (empty: all good)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    problems: list[str] = []
    out.mkdir(parents=True, exist_ok=True)
    profile = tempfile.mkdtemp(prefix="csdesk-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,1000",
        f"--user-data-dir={profile}",
        # No network: every name but the local server resolves to nothing.
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        _performance_log(driver)  # drain the browser's own start page
        with serve(site) as base:
            for page, names in PAGES.items():
                driver.get(base + page)
                for name in names:
                    problems += _check_diagram(driver, page, name, out)
                for entry in _performance_log(driver):
                    message = json.loads(entry["message"])["message"]
                    if message.get("method") != "Network.requestWillBeSent":
                        continue
                    url = message["params"]["request"]["url"]
                    parts = urlsplit(url)
                    if parts.scheme not in ("http", "https", "ws", "wss"):
                        continue  # data:, blob:, and chrome:// (the browser's own pages)
                    if parts.hostname == "127.0.0.1":
                        continue
                    problems.append(f"{page}: asked the network for {url}")
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
    return problems


def _performance_log(driver: Chrome) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = driver.get_log("performance")  # type: ignore[no-untyped-call]
    return entries


def _check_diagram(driver: Chrome, page: str, name: str, out: Path) -> list[str]:
    from selenium.webdriver.common.by import By

    found = driver.find_elements(By.CSS_SELECTOR, f'img[src$="diagrams/{name}.svg"]')
    if not found:
        return [f"{page}: no image of the {name} diagram"]
    image = found[0]
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", image)
    loaded = driver.execute_script(
        "return arguments[0].complete && arguments[0].naturalWidth > 0;", image
    )
    if not loaded:
        return [f"{page}: the {name} diagram did not load (a broken image)"]
    width = image.size["width"]
    if width < MIN_WIDTH:
        return [f"{page}: the {name} diagram is laid out {width}px wide (< {MIN_WIDTH})"]
    picture = image.screenshot_as_png
    (out / f"{name}.png").write_bytes(picture)
    share = ink(picture)
    if share < MIN_INK:
        return [f"{page}: the {name} diagram's screenshot is blank ({share:.2%} dark pixels)"]
    print(f"ok {page} {name}: {width}x{image.size['height']} px, {share:.1%} ink")
    return []


def main(argv: list[str] | None = None) -> int:
    """Check the site given on the command line; the exit status is the verdict."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", type=Path, help="the built site (mkdocs build --site-dir)")
    parser.add_argument("--out", type=Path, help="where to save the screenshots")
    arguments = parser.parse_args(argv)
    site: Path = arguments.site
    missing = [tool for tool in (CHROMIUM, CHROMEDRIVER) if not Path(tool).exists()]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium (pip install -e '.[dev]')")
    if missing:
        message = f"docs_screenshots: missing {', '.join(missing)}"
        if os.environ.get("CI") == "true":
            print(message + " (CI=true: failing, not skipping)", file=sys.stderr)
            return 1
        print(message + ": skipped (apt install chromium chromium-driver)", file=sys.stderr)
        return 0
    if not (site / "index.html").exists():
        print(f"docs_screenshots: {site} is not a built site (no index.html)", file=sys.stderr)
        return 1
    out: Path = arguments.out or site.parent / "docs-screenshots"
    problems = check(site, out)
    for problem in problems:
        print(f"FAILED {problem}", file=sys.stderr)
    print(f"screenshots in {out}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
