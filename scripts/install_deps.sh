#!/usr/bin/env bash
# Installs the system packages Periscope needs when they are missing: the C libraries it links
# against (libzmq, OpenBLAS), cmake for the llama.cpp backend's build, and Chromium with its WebDriver for the browser test of JupyterLab.
set -euo pipefail
have_libs() { pkg-config --exists libzmq openblas 2>/dev/null && command -v cmake >/dev/null; }
have_browser() { command -v chromium >/dev/null && command -v chromedriver >/dev/null; }
if have_libs && have_browser; then
    exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
    libzmq3-dev libopenblas-dev pkg-config cmake chromium chromium-driver >/dev/null
have_libs && have_browser
echo "deps: libzmq $(pkg-config --modversion libzmq), openblas, $(chromium --version 2>/dev/null | head -1) installed"
