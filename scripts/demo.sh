#!/usr/bin/env bash
# make demo: a local PermitChain network on loopback running the license
# workflow end to end through the permit CLI, printing each step; with
# several validators an observer follows them and serves the public site,
# and the demo ends by printing the URL of a license page it serves.
# Everything it starts is stopped and removed on exit (PERMIT_DEMO_HOLD=N
# keeps the network up N more seconds, to open the page in a browser).
set -euo pipefail
build=${1:-build}
bin=$(cd "$build/bin" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
validators=${PERMIT_DEMO_VALIDATORS:-4}
work=$(mktemp -d /tmp/permit-demo-XXXXXX)
pids=()

cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

# a base port with room for the validators' RPC and p2p ports
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for _ in $(seq 1 50); do
  base=$((20000 + RANDOM % 11000))  # below the ephemeral range (32768-)
  ok=1
  for i in $(seq 0 $((2 * validators + 1))); do port_free $((base + i)) || ok=0; done
  [ $ok = 1 ] && break
done

bold=$(tput bold 2>/dev/null || true); plain=$(tput sgr0 2>/dev/null || true)
say()  { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
# the command goes to stderr, so that `x=$(show ...)` captures only its output
show() { printf '$ %s\n' "permit $*" >&2; "$bin/permit" "$@"; }

say "Creating a test network with $validators validator(s) in $work"
observer=()
[ "$validators" -gt 1 ] && observer=(--observer)
"$bin/permit" testnet --validators "$validators" --out "$work/net" --base-port "$base" "${observer[@]}"
obs_rpc=$((base + 2 * validators))
obs_pub=$((base + 2 * validators + 1))
keys=$work/net/keys
export PERMIT_RPC=http://127.0.0.1:$base

say "Starting $validators permitd processes, one per department validator"
for i in $(seq 0 $((validators - 1))); do
  "$bin/permitd" --home "$work/net/node$i" >"$work/node$i.log" 2>&1 &
  pids+=($!)
done
# wait until every node answers and (with several) sees all its peers
want_peers=$((validators - 1))
for _ in $(seq 1 150); do
  ready=1
  for i in $(seq 0 $((validators - 1))); do
    peers=$("$bin/permit" --rpc "http://127.0.0.1:$((base + 2 * i))" --json status 2>/dev/null |
            sed -n 's/.*"peers": *\([0-9]*\).*/\1/p' || true)
    [ "${peers:-x}" = "$want_peers" ] || ready=0
  done
  [ $ready = 1 ] && break
  sleep 0.1
done
show status
if [ "$validators" -gt 1 ]; then
  say "An observer (公众查询节点) follows the validators and serves the public site"
  "$bin/permitd" --home "$work/net/observer" >"$work/observer.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 150); do
    "$bin/permit" --rpc "http://127.0.0.1:$obs_rpc" status >/dev/null 2>&1 && break
    sleep 0.1
  done
  show --rpc "http://127.0.0.1:$obs_rpc" status | grep -E '^(Height|Peers|Role)' || true
fi

say "1. A convenience store (便利店) applies; market regulation and the tobacco bureau approve"
uscc=91350100M000100Y43
id=$(show apply --key "$keys/registrar.key" --uscc $uscc --name "常州新北便利超市有限公司" \
  --legal-rep "张三" --industry convenience-store --division 320411 \
  --address "常州市新北区太湖东路101号" --scope "预包装食品销售；卷烟零售")
echo "$id"
show pending --department market
show approve "$id" --key "$keys/market.key"
echo "(the fire brigade owns no item of this license, so its approval is refused:)"
show approve "$id" --key "$keys/fire.key" || echo "  (exit code $?)"
show approve "$id" --key "$keys/tobacco.key"
show show "$id"

say "2. A bakery uses the notify-and-commit route (告知承诺): the holder signs the pledge with its e-seal key, issued at once, then verified with evidence"
echo "(the bakery's legal person makes its e-seal key and signs the pledge text (承诺书) offline)"
holder_pub=$(show keygen --out "$work/bakery-holder.key")
printf '%s\n' "本店承诺：所报信息真实，经营场所与设施符合食品经营要求，愿承担不实承诺的法律责任。" \
  >"$work/pledge.txt"
pledge_sig=$(show pledge sign --key "$work/bakery-holder.key" --uscc 91320411MA1MXL8Q2F \
  --industry bakery --text "$work/pledge.txt")
echo "(without the pledge the notify-and-commit route is refused:)"
show apply --key "$keys/registrar.key" --uscc 91320411MA1MXL8Q2F \
  --name "新北区麦香烘焙坊" --legal-rep "李四" --industry bakery --division 320411001 \
  --address "常州市新北区珠江路88号" --commitment || echo "  (exit code $?)"
id2=$(show apply --key "$keys/registrar.key" --uscc 91320411MA1MXL8Q2F \
  --name "新北区麦香烘焙坊" --legal-rep "李四" --industry bakery --division 320411001 \
  --address "常州市新北区珠江路88号" --commitment \
  --holder-key "$holder_pub" --pledge-text "$work/pledge.txt" --pledge-sig "$pledge_sig")
echo "$id2"
show show "$id2"
echo "(the market bureau checks by video (VR cloud inspection) and records the evidence: its hash)"
evidence=$(printf '%s' "remote inspection of $id2" | sha256sum | cut -c1-64)
show verify "$id2" --key "$keys/market.key" --evidence remote_video --evidence-sha256 "$evidence" \
  --evidence-note "视频核查：后厨与承诺一致"
show show "$id2"
show history "$id2"

say "3. Two more business addresses for the convenience store (一照多址), and an amendment"
show address add "$id" --key "$keys/registrar.key" --division 320411002 --address "常州市新北区衡山路8号"
show address add "$id" --key "$keys/registrar.key" --division 320411003 --address "常州市新北区黄河西路12号"
show address list "$id"
show amend "$id" --key "$keys/registrar.key" --legal-rep "王五"
echo "(the store's holder key is named, so it can confirm its own renewal later (无感智办):"
echo " permit renew $id --key store-holder.key)"
show keygen --out "$work/store-holder.key"
show holder set "$id" --key "$keys/registrar.key" --holder-key "$work/store-holder.key"
show history "$id"

say "4. Search by USCC $uscc"
show search --uscc $uscc

say "5. Licenses expiring within 6 years (renewal reminders, 无感智办)"
show expiring --within 2190

say "6. The latest block, with its commit certificate"
show block

if [ "$validators" -gt 1 ]; then
  say "7. Every validator holds the same chain"
  for i in $(seq 0 $((validators - 1))); do
    printf 'node%d  ' "$i"
    "$bin/permit" --rpc "http://127.0.0.1:$((base + 2 * i))" status |
      awk '/^Height/ {h=$2} /^Block hash/ {b=$3} END {printf "height %s  block %s\n", h, b}'
  done
  last=$((base + 2 * (validators - 1)))
  show --rpc "http://127.0.0.1:$last" show "$id" | head -3
fi

if [ "$validators" -ge 4 ]; then
  last=$((validators - 1))
  say "8. Validator node$last is killed (kill -9): the other $last validators go on"
  kill -KILL "${pids[$last]}"
  wait "${pids[$last]}" 2>/dev/null || true
  show address add "$id" --key "$keys/registrar.key" --division 320411004 \
    --address "常州市新北区长江北路5号"
  show --rpc "http://127.0.0.1:$base" status | grep -E '^(Height|Peers)'
  echo "(node$last restarts from its data folder and catches up:)"
  "$bin/permitd" --home "$work/net/node$last" >>"$work/node$last.log" 2>&1 &
  pids[$last]=$!
  want=$("$bin/permit" --rpc "http://127.0.0.1:$base" status | awk '/^Height/ {print $2}')
  for _ in $(seq 1 100); do
    h=$("$bin/permit" --rpc "http://127.0.0.1:$((base + 2 * last))" status 2>/dev/null |
        awk '/^Height/ {print $2}' || true)
    [ "${h:-0}" -ge "$want" ] && break
    sleep 0.1
  done
  printf 'node%d  height %s (the others: %s)\n' "$last" "${h:-?}" "$want"
fi

say "9. An auditor checks the convenience store's license against the genesis file alone"
show audit "$id" --genesis "$work/net/genesis.json" --out "$work/license.bundle" \
  --checkpoint "$work/checkpoint"
echo "(the bundle is a file: verified again with no network at all)"
show --rpc http://127.0.0.1:1 audit --bundle "$work/license.bundle" --genesis "$work/net/genesis.json"

say "10. Governance: the departments rotate market regulation's seal key (DESIGN §11)"
"$bin/permit" keygen --out "$work/market-2.key" >/dev/null
newpub=$("$bin/permit" pubkey --key "$work/market-2.key")
depts=$(cd "$keys" && ls *.key | sed 's/\.key$//' | grep -v -e '^registrar$' -e '^market$')
first=$(echo "$depts" | head -n 1)
out=$(show gov propose rotate-key market --seal "$newpub" --key "$keys/$first.key")
echo "$out"
pid=$(echo "$out" | awk '/^proposal/ {print $2}')
for d in $(echo "$depts" | tail -n +2); do
  out=$(show gov approve "$pid" --key "$keys/$d.key")
  echo "$out"
  case "$out" in *executed*) break ;; esac
done
show gov show "$pid"
id3=$(show apply --key "$keys/registrar.key" --uscc 91320411MA1MXL9R39 \
  --name "新北区麦香烘焙坊二店" --legal-rep "李四" --industry bakery --division 320411 \
  --address "常州市新北区珠江路90号")
echo "$id3"
echo "(from the next block market's old seal key is refused:)"
show approve "$id3" --key "$keys/market.key" || echo "  (exit code $?)"
show approve "$id3" --key "$work/market-2.key"
show departments
echo "(audits from genesis alone: approved with the old key before the rotation, and with the new one after)"
show audit "$id" --genesis "$work/net/genesis.json" --checkpoint "$work/checkpoint"
show audit "$id3" --genesis "$work/net/genesis.json"

say "10b. 秒批: market regulation delegates the bakery's permits on the commitment route to the ledger's rule"
cat >"$work/bakery-instant.json" <<'JSON'
{"code": "bakery", "name": "烘焙店", "validity": "5y", "commitment_allowed": true,
 "verify_within": "30d",
 "items": [{"permit": "食品生产许可（小作坊登记）", "department": "market", "instant": true},
           {"permit": "食品经营许可", "department": "market", "instant": true}]}
JSON
out=$(show gov propose set-industry "$work/bakery-instant.json" --key "$keys/$first.key")
echo "$out"
pid=$(echo "$out" | awk '/^proposal/ {print $2}')
for d in $(echo "$depts" | tail -n +2); do
  out=$(show gov approve "$pid" --key "$keys/$d.key")
  echo "$out"
  case "$out" in *executed*) break ;; esac
done
show industries | grep -A2 '^bakery'
echo "(a third bakery applies with its holder's pledge: the USCC has no license revoked within"
echo " instant_ban, so the rule approves both items in the block of the APPLY: no department signs)"
pledge_sig3=$(show pledge sign --key "$work/bakery-holder.key" --uscc 91320411MA1MXLAT43 \
  --industry bakery --text "$work/pledge.txt")
id4=$(show apply --key "$keys/registrar.key" --uscc 91320411MA1MXLAT43 \
  --name "新北区麦香烘焙坊三店" --legal-rep "李四" --industry bakery --division 320411 \
  --address "常州市新北区珠江路92号" --commitment \
  --holder-key "$holder_pub" --pledge-text "$work/pledge.txt" --pledge-sig "$pledge_sig3")
echo "$id4"
show show "$id4"
show history "$id4"
show audit "$id4" --genesis "$work/net/genesis.json"

url=""
if [ "$validators" -gt 1 ]; then
  say "11. The electronic license page (电子证照), served by the observer"
  want=$("$bin/permit" --rpc "http://127.0.0.1:$base" status | awk '/^Height/ {print $2}')
  for _ in $(seq 1 100); do
    h=$("$bin/permit" --rpc "http://127.0.0.1:$obs_rpc" status 2>/dev/null |
        awk '/^Height/ {print $2}' || true)
    [ "${h:-0}" -ge "$want" ] && break
    sleep 0.1
  done
  printf 'observer  height %s (the validators: %s)\n' "${h:-?}" "$want"
  url="http://127.0.0.1:$obs_pub/l/$id"
  echo "\$ curl -sI $url"
  curl -sI "$url" | grep -iE '^(HTTP|content-type|content-security-policy|x-content-type)' || true
  echo "\$ curl -s $url | grep -o '<title>.*</title>'"
  curl -s "$url" | grep -o '<title>[^<]*</title>' || true
  # the QR code's URL carries the chain id and the genesis hash the page verifies against
  qr=$(curl -s "$url" | grep -o 'class="mono">http[^<]*#[^<]*' | sed 's/^class="mono">//' | head -1)
  if [ -n "$qr" ]; then
    echo "the QR code encodes: $qr"
    if command -v chromium >/dev/null && command -v node >/dev/null &&
       curl -sf -o /dev/null "http://127.0.0.1:$obs_pub/verifier.wasm"; then
      echo "\$ (headless chromium opens the QR code's URL; the page verifies the license in the browser)"
      node "$src/tests/browser.js" --verdict "$qr" 2>/dev/null || echo "  (not verified: exit $?)"
    fi
    url=$qr
  fi
  if [ -n "${PERMIT_DEMO_HOLD:-}" ]; then
    echo "(the network stays up ${PERMIT_DEMO_HOLD} s: open $url)"
    sleep "$PERMIT_DEMO_HOLD"
  fi
fi

say "Done: stopping the network"
[ -z "$url" ] || echo "The license page the observer served: $url"
