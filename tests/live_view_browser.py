"""Drives the live view of `neuroloop run --view` in a real headless browser (Debian's chromium,
through Playwright for Python; Playwright's own browsers are not used).

Usage: live_view_browser.py URL SCREENSHOT_DIR

Checks that the page loads, that the 3D canvas draws the arm (pixels of the arm's colour), and that
the trial counter advances while the page stays open; saves SCREENSHOT_DIR/live_view.png and prints
its path. Exit 0 when every check passes, 1 otherwise (with what failed).
"""

import os
import sys
import time

from playwright.sync_api import sync_playwright

CHROMIUM = os.environ.get("NEUROLOOP_CHROMIUM", "/usr/bin/chromium")
# The arm's segments are drawn in #3465a4 (page.html).
ARM_PIXELS_JS = """() => {
  const c = document.getElementById('arm');
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let arm = 0, drawn = 0;
  for (let i = 0; i < d.length; i += 4) {
    if (d[i] !== 255 || d[i + 1] !== 255 || d[i + 2] !== 255) drawn++;
    if (Math.abs(d[i] - 0x34) < 24 && Math.abs(d[i + 1] - 0x65) < 24 && Math.abs(d[i + 2] - 0xa4) < 24) arm++;
  }
  return [arm, drawn];
}"""


def trials(page):
    return int(page.inner_text("#trials"))


def main():
    url, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.goto(url)
        page.wait_for_function("document.getElementById('time').textContent !== '-'", timeout=60_000)
        arm, drawn = page.evaluate(ARM_PIXELS_JS)
        print(f"arm canvas: {arm} arm-coloured pixels, {drawn} drawn (non-white) pixels")
        if arm < 100:
            print("FAIL: the 3D canvas shows no arm")
            return 1
        first = trials(page)
        print(f"trial counter at first: {first}")
        deadline = time.time() + 240
        while trials(page) <= first and time.time() < deadline:
            if page.inner_text("#status").startswith("run ended") and trials(page) <= first:
                break
            time.sleep(0.5)
        later = trials(page)
        print(f"trial counter later: {later} (page says: {page.inner_text('#counters')!r})")
        shot = os.path.join(out, "live_view.png")
        page.screenshot(path=shot, full_page=True)
        print(f"screenshot: {shot}")
        browser.close()
        if later <= first:
            print("FAIL: the trial counter did not advance")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
