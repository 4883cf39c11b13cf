#!/usr/bin/env bash
# tests/package_test.sh BUILD: `make install` into a staging root and the
# Debian package (CPack), checked from the outside: files and modes, the
# package's control data (dependencies, conffiles, the permit user), the
# shipped settings parse, the man pages and completion are well formed, and
# `systemd-analyze verify` accepts the unit (when systemd-analyze exists).
set -euo pipefail
build=$(cd "$1" && pwd)
tmp=$(mktemp -d /tmp/permit-package-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# make install, staged
DESTDIR="$tmp/stage" cmake --install "$build" --prefix /usr >/dev/null
for f in usr/bin/permitd usr/bin/permit etc/permitd/permitd.conf \
         lib/systemd/system/permitd.service etc/logrotate.d/permitchain \
         usr/share/man/man8/permitd.8 usr/share/man/man1/permit.1 \
         usr/share/bash-completion/completions/permit usr/share/doc/permitchain/operations.md; do
  [ -e "$tmp/stage/$f" ] || fail "make install did not install /$f"
done
[ -x "$tmp/stage/usr/bin/permitd" ] || fail "permitd is not executable"

# the package
(cd "$tmp" && cpack -G DEB --config "$build/CPackConfig.cmake" -B "$tmp/cpack" >/dev/null)
deb=$(ls "$tmp"/cpack/permitchain_*_amd64.deb 2>/dev/null | head -1)
[ -n "$deb" ] || fail "no permitchain_<version>_amd64.deb"
info=$(dpkg-deb -I "$deb")
grep -q '^ Package: permitchain' <<<"$info" || fail "package name"
for dep in adduser librocksdb libsecp256k1 libevent-openssl libssl3 libjansson4 libprotobuf-c1; do
  grep -q "^ Depends:.*$dep" <<<"$info" || fail "Depends lacks $dep"
done
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles | grep -qx /etc/permitd/permitd.conf \
  || fail "/etc/permitd/permitd.conf is not a conffile"
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./postinst | grep -q 'adduser --system --group' \
  || fail "postinst does not make the permit user"
root="$tmp/root"
dpkg-deb -x "$deb" "$root"
"$root/usr/bin/permitd" --version | grep -q '^permitd ' || fail "the packaged permitd does not run"
"$root/usr/bin/permit" --help >/dev/null || fail "the packaged permit does not run"
# the shipped settings parse (--print-config reads them, starts nothing)
mkdir -p "$tmp/home"
"$root/usr/bin/permitd" --home "$tmp/home" --config "$root/etc/permitd/permitd.conf" \
  --print-config >/dev/null || fail "the shipped /etc/permitd/permitd.conf does not parse"
head -1 "$root/usr/share/man/man8/permitd.8" | grep -q '^\.TH PERMITD 8' || fail "permitd(8)"
head -1 "$root/usr/share/man/man1/permit.1" | grep -q '^\.TH PERMIT 1' || fail "permit(1)"
bash -n "$root/usr/share/bash-completion/completions/permit" || fail "completion script"
# the browser verifier, where the packaged permitd looks for it, when this build has one
if grep -q '^PERMIT_WASM_DIR:PATH=.' "$build/CMakeCache.txt" 2>/dev/null; then
  for f in verifier.js verifier.wasm page.js; do
    [ -s "$root/usr/share/permitchain/web/$f" ] || fail "no /usr/share/permitchain/web/$f"
  done
  echo "the browser verifier is packaged in /usr/share/permitchain/web"
fi
unit="$root/lib/systemd/system/permitd.service"
for line in 'User=permit' 'NoNewPrivileges=yes' 'ProtectSystem=strict' 'StateDirectory=permitd' \
            'LimitNOFILE=' 'ExecStart=/usr/bin/permitd --home /var/lib/permitd --config /etc/permitd/permitd.conf'; do
  grep -q "^$line" "$unit" || fail "the unit lacks $line"
done
if command -v systemd-analyze >/dev/null; then
  systemd-analyze verify --man=no --recursive-errors=no --root="$root" \
    /lib/systemd/system/permitd.service || fail "systemd-analyze verify"
  echo "systemd-analyze verify: the unit is accepted"
else
  echo "systemd-analyze is not installed here: the unit was checked by its lines only"
fi
echo "package $(basename "$deb"): $(stat -c %s "$deb") bytes, installs and checks out"
