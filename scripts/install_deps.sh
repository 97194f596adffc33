#!/usr/bin/env bash
# Installs the C libraries Periscope links against (libzmq, OpenBLAS) when they are missing.
set -euo pipefail
if pkg-config --exists libzmq openblas 2>/dev/null; then
    exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq libzmq3-dev libopenblas-dev pkg-config >/dev/null
pkg-config --exists libzmq openblas
echo "deps: libzmq $(pkg-config --modversion libzmq), openblas installed"
