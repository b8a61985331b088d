#!/usr/bin/env bash
# Installs every Debian 12 package rouse's build, tests and benchmarks need.
# Idempotent: does nothing (not even `apt-get update`) when all are present.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config git curl python3 clang-format
  libcaf-dev libboost-dev libboost-system-dev libsimdjson-dev libconcurrentqueue-dev
  liblmdb-dev lmdb-utils catch2 libyaml-cpp-dev libcli11-dev libssl-dev
  libhowardhinnant-date-dev tzdata python3-croniter
  wrk webhook
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  sudo_cmd=(sudo)
fi
echo "install-deps: installing ${missing[*]}"
"${sudo_cmd[@]}" apt-get update -q
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
