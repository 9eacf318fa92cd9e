#!/usr/bin/env bash
# Debian's Chromium and its driver for the dashboard's browser tests; a no-op when present.
# Playwright drives this binary (executable_path=/usr/bin/chromium): `playwright install`
# would download a browser build, which this project never does.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    echo "[chromium] $(/usr/bin/chromium --version 2>/dev/null || echo present) at /usr/bin/chromium"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "[chromium] /usr/bin/chromium is missing and installing it needs root" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
echo "[chromium] updating the package lists ..."
$SUDO apt-get update -q
echo "[chromium] installing chromium and chromium-driver (a few minutes the first time) ..."
$SUDO apt-get install -y -q --no-install-recommends chromium chromium-driver fonts-dejavu-core
echo "[chromium] $(/usr/bin/chromium --version 2>/dev/null || echo installed) at /usr/bin/chromium"
