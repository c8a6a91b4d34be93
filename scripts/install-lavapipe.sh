#!/usr/bin/env bash
# Installs Mesa's lavapipe (a Vulkan driver that runs on the CPU) so that Dawn,
# and with it shadergrad, finds a WebGPU adapter on a machine without a GPU.
# Debian 12's own Mesa 22.3 is refused by Dawn ("shaderUniform*ArrayDynamicIndexing
# required"); bookworm-backports has Mesa 25, which works.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
  echo "deb http://deb.debian.org/debian bookworm-backports main" | $SUDO tee /etc/apt/sources.list.d/bookworm-backports.list >/dev/null
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers libvulkan1 >/dev/null
echo "lavapipe installed: $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers)"
