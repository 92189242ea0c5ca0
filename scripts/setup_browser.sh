#!/usr/bin/env bash
# Installs Debian's chromium for the live view's headless-browser test (tests/live_view.rs, driven by
# Playwright from the project's .venv, see scripts/setup_python.sh). Idempotent: does nothing when
# /usr/bin/chromium exists. Needs apt-get and root (or password-less sudo); where neither is there it
# says so and exits 1, and scripts/test.sh then runs the suite with NEUROLOOP_NO_BROWSER=1 (the
# browser test is then skipped, and says so).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
    echo "chromium is ready ($(/usr/bin/chromium --version 2>/dev/null | head -1))" >&2
    exit 0
fi
if ! command -v apt-get >/dev/null; then
    echo "setup_browser.sh: no apt-get: install chromium at /usr/bin/chromium by hand" >&2
    exit 1
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
    if sudo -n true 2>/dev/null; then sudo="sudo -n"; else
        echo "setup_browser.sh: installing chromium needs root (or password-less sudo)" >&2
        exit 1
    fi
fi
echo "installing chromium with apt-get" >&2
$sudo apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
/usr/bin/chromium --version >&2
