#!/usr/bin/env bash
# Installs Debian's chromium-headless-shell, the browser the browser tests
# (test/browser/) drive through playwright-core: with --enable-unsafe-webgpu it
# gives pages a WebGPU adapter on SwiftShader (Vulkan on the CPU), so no GPU is
# needed. playwright-core downloads no browser; it is pointed at this binary.
# Recommends (CUPS, systemd, ...) are left out; fonts-liberation is kept so that
# pages render text.
set -euo pipefail

if command -v chromium-headless-shell >/dev/null 2>&1; then
  echo "chromium-headless-shell present: $(chromium-headless-shell --version 2>/dev/null || echo unknown version)"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium-headless-shell fonts-liberation >/dev/null
echo "chromium-headless-shell installed: $(chromium-headless-shell --version)"
