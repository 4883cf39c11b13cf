#!/usr/bin/env bash
# Install the Debian packages PermitChain builds and tests with.
# Idempotent: prints nothing and changes nothing when every package is present.
set -euo pipefail

pkgs=(
  build-essential cmake pkg-config
  libsecp256k1-dev librocksdb-dev libevent-dev
  libprotobuf-c-dev protobuf-c-compiler
  libssl-dev libjansson-dev libcmocka-dev libqrencode-dev
  clang libclang-rt-14-dev
  curl python3
  dpkg-dev systemd
)

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >/dev/null
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: done" >&2
