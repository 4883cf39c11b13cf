#!/usr/bin/env bash
# Install the Debian packages PermitChain builds and tests with, and unpack
# the Debian sources the browser verifier is compiled from (wasm/README.md).
# Idempotent: prints nothing and changes nothing when every package is
# present and every source is unpacked.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"

pkgs=(
  build-essential cmake pkg-config
  libsecp256k1-dev librocksdb-dev libevent-dev
  libprotobuf-c-dev protobuf-c-compiler
  libssl-dev libjansson-dev libcmocka-dev libqrencode-dev
  clang libclang-rt-14-dev
  curl python3
  dpkg-dev systemd
  # the browser verifier (WebAssembly) and the browser tests
  emscripten chromium zbar-tools poppler-utils
)

# The verifier compiled to WebAssembly needs the C sources of the libraries
# the native build links: the Debian source package of each, at the version
# of the installed -dev package, unpacked under deps-src/ (not committed).
src_of=(libsecp256k1-dev libprotobuf-c-dev libjansson-dev)
src_dir="$root/deps-src"

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}" >&2
  $sudo apt-get update -qq >/dev/null
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  echo "deps: done" >&2
fi

# source package and version of each -dev package, "name version"
want=()
for p in "${src_of[@]}"; do
  want+=("$(dpkg-query -W -f='${source:Package} ${source:Version}' "$p")")
done

need=()
for w in "${want[@]}"; do
  read -r name ver <<<"$w"
  [ -f "$src_dir/$name-$ver/.unpacked" ] || need+=("$name=$ver")
done
[ ${#need[@]} -eq 0 ] && exit 0

echo "deps: fetching Debian sources ${need[*]} into $src_dir" >&2
# apt-get source reads the archive's Sources index: add a deb-src entry for
# the archive the system already uses when there is none
if ! grep -rqsE '^(deb-src|Types:.*deb-src)' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  codename="$(. /etc/os-release && echo "$VERSION_CODENAME")"
  $sudo tee /etc/apt/sources.list.d/permitchain-deb-src.sources >/dev/null <<EOF
# added by PermitChain's scripts/deps.sh: the sources of libsecp256k1,
# protobuf-c and jansson, compiled into the browser verifier
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: $codename $codename-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: $codename-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  $sudo apt-get update -qq >/dev/null
fi
mkdir -p "$src_dir"
for w in "${want[@]}"; do
  read -r name ver <<<"$w"
  dest="$src_dir/$name-$ver"
  [ -f "$dest/.unpacked" ] && continue
  tmp="$(mktemp -d "$src_dir/.fetch.XXXXXX")"
  # as root apt-get source cannot drop privileges to _apt for a folder it
  # does not own: download as the invoking user's own process
  (cd "$tmp" && apt-get source -qq --download-only "$name=$ver" >/dev/null 2>&1 ||
     apt-get source -qq --download-only "$name" >/dev/null)
  (cd "$tmp" && dpkg-source --no-check -x ./*.dsc src >/dev/null)
  rm -rf "$dest"
  mv "$tmp/src" "$dest"
  rm -rf "$tmp"
  touch "$dest/.unpacked"
done
echo "deps: sources done" >&2
