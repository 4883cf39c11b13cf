#!/usr/bin/env python3
"""Known-answer vectors for every canonical byte layout of docs/formats.md.

Written from docs/formats.md (and, for the protobuf messages it names, the
field numbers of proto/permit.proto) alone, with nothing but the standard
library: it shares no code with the C implementation, so a change to a signed
or hashed layout in the C code makes tests/test_vectors.c fail against the
files written here.

    python3 tests/vectors/gen.py tests/vectors        (make vectors)

writes formats.json.  Every value is fixed (no randomness, no signing: the
signatures are given bytes), so running it again gives the same file.
"""
import hashlib
import json
import os
import struct
import sys


# ---- notation of docs/formats.md ----

def u8(v): return struct.pack(">B", v)
def u16(v): return struct.pack(">H", v)
def u32(v): return struct.pack(">I", v)
def i32(v): return struct.pack(">i", v)
def u64(v): return struct.pack(">Q", v)


def str_(s):
    b = s.encode("utf-8")
    assert len(b) <= 0xFFFF
    return u16(len(b)) + b


def h32(b):
    assert len(b) == 32
    return b


def sha256(b): return hashlib.sha256(b).digest()


def tagged_hash(tag, m):
    t = sha256(tag.encode())
    return sha256(t + t + m)


def fill(byte, n=32): return bytes([byte]) * n


def seq(start, n=32): return bytes((start + i) & 0xFF for i in range(n))


# ---- protobuf wire format (proto3, as protobuf-c packs it: fields in
# number order, defaults left out) for the few messages needed ----

def varint(v):
    out = b""
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def pb_varint(field, v): return varint(field << 3) + varint(v) if v else b""
def pb_bytes(field, b): return varint(field << 3 | 2) + varint(len(b)) + b if b else b""
def pb_msg(field, b): return varint(field << 3 | 2) + varint(len(b)) + b   # present even if empty


# ---- the layouts ----

def tx_vectors():
    out = []
    cases = [
        ("permit-test", 2, "PL-320411-2026-000001", "同意办理"),   # APPROVE, Decision
        ("permitchain-320411-dev", 9, "PL-320411-2026-000042", "整改完成"),  # RESUME, Reason
    ]
    for i, (chain, kind, lic, reason) in enumerate(cases):
        nonce = seq(0x40 + i, 16)
        ts = 1764288001000 + i
        # TxBody: kind 1, timestamp_ms 2, nonce 3, license_id 4, decision 11 / reason 15
        payload_field = 11 if kind == 2 else 15
        payload_inner = pb_bytes(2 if kind == 2 else 1, reason.encode())
        body = (pb_varint(1, kind) + pb_varint(2, ts) + pb_bytes(3, nonce) +
                pb_bytes(4, lic.encode()) + pb_msg(payload_field, payload_inner))
        signer = seq(0xA0 + i)
        sig = seq(0x10 + i, 64)
        env = u8(1) + h32(signer) + sig + body
        c = chain.encode()
        out.append({
            "chain_id": chain, "kind": kind, "timestamp_ms": ts, "license_id": lic,
            "reason": reason, "nonce": nonce.hex(), "signer": signer.hex(), "sig": sig.hex(),
            "body": body.hex(), "envelope": env.hex(), "tx_id": sha256(env).hex(),
            "sighash_input": (u8(len(c)) + c + body).hex(),
            "sighash": tagged_hash("permit/tx/v1", u8(len(c)) + c + body).hex(),
        })
    return out


def vote_vectors():
    out = []
    for chain, typ, height, rnd, bh in [
        ("permit-test", 1, 1, 0, seq(0x01)),
        ("permit-test", 2, 123456789012, 7, seq(0x80)),
        ("permitchain-320411-dev", 1, 42, 3, bytes(32)),      # a prevote for nil
        ("permitchain-320411-dev", 2, 2**63 - 1, 2**32 - 1, fill(0xFF)),
    ]:
        m = str_(chain) + u8(typ) + u64(height) + u32(rnd) + h32(bh)
        out.append({"chain_id": chain, "type": typ, "height": height, "round": rnd,
                    "block_hash": bh.hex(), "bytes": m.hex(),
                    "sighash": tagged_hash("permit/vote/v1", m).hex()})
    return out


def proposal_vectors():
    out = []
    for chain, height, rnd, pol, bh in [
        ("permit-test", 9, 0, -1, seq(0x22)),
        ("permit-test", 9, 4, 2, seq(0x22)),
        ("permitchain-320411-dev", 2**40, 2**31, -1, fill(0xEE)),
    ]:
        m = str_(chain) + u64(height) + u32(rnd) + i32(pol) + h32(bh)
        out.append({"chain_id": chain, "height": height, "round": rnd, "pol_round": pol,
                    "block_hash": bh.hex(), "bytes": m.hex(),
                    "sighash": tagged_hash("permit/proposal/v1", m).hex()})
    return out


def header_vectors():
    out = []
    for i, (chain, height, time) in enumerate([("permit-test", 1, 1764288001000),
                                                ("permitchain-320411-dev", 987654321,
                                                 1893456000123)]):
        f = {"chain_id": chain, "height": height, "time": time,
             "prev_hash": seq(0x00 + i), "tx_root": seq(0x20 + i), "state_root": seq(0x40 + i),
             "log_size": 1000 + i, "log_root": seq(0x60 + i),
             "validators_hash": seq(0x80 + i), "proposer": seq(0xA0 + i),
             "last_commit_hash": bytes(32) if height == 1 else seq(0xC0 + i)}
        b = (u8(1) + str_(f["chain_id"]) + u64(f["height"]) + u64(f["time"]) +
             h32(f["prev_hash"]) + h32(f["tx_root"]) + h32(f["state_root"]) +
             u64(f["log_size"]) + h32(f["log_root"]) + h32(f["validators_hash"]) +
             h32(f["proposer"]) + h32(f["last_commit_hash"]))
        v = {k: (x.hex() if isinstance(x, bytes) else x) for k, x in f.items()}
        v["bytes"] = b.hex()
        v["hash"] = sha256(b).hex()
        out.append(v)
    return out


def certificate_vectors():
    out = []
    for height, rnd, bh, sigs in [
        (7, 1, seq(0x33), [(3, seq(0x03, 64)), (0, seq(0x00, 64)), (2, seq(0x02, 64))]),
        (1, 0, fill(0x11), [(0, fill(0x44, 64))]),
    ]:
        srt = sorted(sigs)
        b = u8(1) + u64(height) + u32(rnd) + h32(bh) + u16(len(srt))
        for idx, s in srt:
            b += u16(idx) + s
        out.append({"height": height, "round": rnd, "block_hash": bh.hex(),
                    "sigs": [{"validator": idx, "sig": s.hex()} for idx, s in sigs],
                    "bytes": b.hex(), "hash": sha256(b).hex()})
    return out


def event_bytes(e):
    return (u8(1) + str_(e["license_id"]) + u32(e["seq"]) + u8(e["kind"]) +
            h32(bytes.fromhex(e["tx_id"])) + u64(e["height"]) + u64(e["time"]) +
            h32(bytes.fromhex(e["prev"])))


def event_vectors():
    out = []
    prev = bytes(32)
    for s, kind in enumerate([1, 2, 8]):
        e = {"license_id": "PL-320411-2026-000001", "seq": s, "kind": kind,
             "tx_id": seq(0x50 + s).hex(), "height": 10 + s, "time": 1764288001000 + 1000 * s,
             "prev": prev.hex()}
        b = event_bytes(e)
        e["bytes"] = b.hex()
        e["hash"] = sha256(b"\x00" + b).hex()
        prev = sha256(b"\x00" + b)
        out.append(e)
    return out


def record_bytes(r):
    b = u8(2 if "holder_key" in r else 1)
    for k in ("id", "uscc", "name", "legal_rep", "industry", "scope"):
        b += str_(r[k])
    b += u8(r["status"]) + u8(r["commitment"])
    for k in ("applied_at", "issued_at", "expires_at", "verify_deadline"):
        b += u64(r[k])
    b += str_(r["suspended_by"]) + u32(r["next_address_id"])
    b += u16(len(r["addresses"]))
    for a in r["addresses"]:
        b += u32(a["id"]) + str_(a["division"]) + str_(a["text"]) + u8(a["primary"])
    b += u8(len(r["items"]))
    for it in r["items"]:
        b += (str_(it["permit"]) + str_(it["department"]) + u8(it["decision"]) +
              u8(it["verified"]) + u64(it["decided_at"]))
    b += u8(len(r["documents"]))
    for d in r["documents"]:
        b += h32(bytes.fromhex(d))
    b += u32(r["seq"]) + h32(bytes.fromhex(r["head"]))
    if "holder_key" in r:   # version 2: the license names its holder's key
        b += h32(bytes.fromhex(r["holder_key"])) + h32(bytes.fromhex(r["pledge_sha256"]))
    return b


def holder_record_vector():
    """A record of version 2 (a holder key and pledge hash), kept out of the
    state-tree and bundle vectors so that theirs stay those of version 1."""
    r = {"id": "PL-320411-2027-000003", "uscc": "91320411MA1XXXXX0X", "name": "麦香烘焙坊",
         "legal_rep": "李四", "industry": "bakery", "scope": "", "status": 2, "commitment": 1,
         "applied_at": 1800000000000, "issued_at": 1800000000000,
         "expires_at": 1957680000000, "verify_deadline": 1802592000000, "suspended_by": "",
         "next_address_id": 2,
         "addresses": [{"id": 1, "division": "320411", "text": "常州市新北区", "primary": 1}],
         "items": [{"permit": "食品经营许可", "department": "market", "decision": 3,
                    "verified": 0, "decided_at": 1800000000000}],
         "documents": [], "seq": 0, "head": seq(0x20).hex(),
         "holder_key": seq(0xa0).hex(), "pledge_sha256": sha256("承诺书".encode()).hex()}
    b = record_bytes(r)
    r["bytes"] = b.hex()
    r["hash"] = sha256(b).hex()
    return r


def instant_record_vector():
    """A record whose one item the rule instant approved (decision 4,
    verified): ISSUED in the block of its APPLY."""
    r = {"id": "PL-320411-2027-000004", "uscc": "91320411MA1MXL9R39", "name": "花间花卉",
         "legal_rep": "王五", "industry": "flower-stall", "scope": "", "status": 3,
         "commitment": 1, "applied_at": 1800000000000, "issued_at": 1800000000000,
         "expires_at": 1894608000000, "verify_deadline": 1802592000000, "suspended_by": "",
         "next_address_id": 2,
         "addresses": [{"id": 1, "division": "320411", "text": "常州市新北区", "primary": 1}],
         "items": [{"permit": "食品经营备案（仅销售预包装食品）", "department": "market",
                    "decision": 4, "verified": 1, "decided_at": 1800000000000}],
         "documents": [], "seq": 0, "head": seq(0x24).hex(),
         "holder_key": seq(0xa4).hex(), "pledge_sha256": sha256("承诺书".encode()).hex()}
    b = record_bytes(r)
    r["bytes"] = b.hex()
    r["hash"] = sha256(b).hex()
    return r


def instant_event_vector():
    """The APPLY event of kind 17, APPLY_INSTANT: the event names the rule."""
    e = {"license_id": "PL-320411-2027-000004", "seq": 0, "kind": 17,
         "tx_id": seq(0x64).hex(), "height": 40, "time": 1800000000000,
         "prev": bytes(32).hex()}
    b = event_bytes(e)
    e["bytes"] = b.hex()
    e["hash"] = sha256(b"\x00" + b).hex()
    return e


def uscc_record_bytes(u):
    b = u8(1) + str_("USCC-" + u["uscc"]) + u8(len(u["revocations"]))
    for r in u["revocations"]:
        b += u64(r["log_index"]) + u64(r["time"]) + str_(r["license_id"])
    if "unlisted_from" in u:
        b += u8(1) + u64(u["unlisted_from"])
    else:
        b += u8(0)
    return b


def uscc_record_vectors():
    """USCC records (秒批's data comparison): two revocations; and a full one,
    64 listed and the log index of the first left out."""
    two = {"uscc": "91320411MA1MXL9R39",
           "revocations": [{"log_index": 17, "time": 1800000000000,
                            "license_id": "PL-320411-2027-000001"},
                           {"log_index": 40, "time": 1800000600000,
                            "license_id": "PL-320411-2027-000009"}]}
    full = {"uscc": "91350100M000100Y43",
            "revocations": [{"log_index": 100 + i, "time": 1800000000000 + 1000 * i,
                             "license_id": "PL-320411-2027-%06d" % (i + 1)} for i in range(64)],
            "unlisted_from": 500}
    out = []
    for u in (two, full):
        b = uscc_record_bytes(u)
        v = dict(u)
        v["id"] = "USCC-" + u["uscc"]
        v["key"] = sha256(v["id"].encode()).hex()
        v["bytes"] = b.hex()
        v["hash"] = sha256(b).hex()
        out.append(v)
    return out


def record_vectors():
    recs = [
        {"id": "PL-320411-2026-000001", "uscc": "91350100M000100Y43",
         "name": "常州新北便利有限公司", "legal_rep": "张三", "industry": "convenience-store",
         "scope": "预包装食品销售；\n卷烟零售", "status": 5, "commitment": 0,
         "applied_at": 1764288001000, "issued_at": 1764288003000,
         "expires_at": 1921968003000, "verify_deadline": 0, "suspended_by": "market",
         "next_address_id": 3,
         "addresses": [{"id": 1, "division": "320411", "text": "常州市新北区太湖东路101号",
                        "primary": 1},
                       {"id": 2, "division": "320411001", "text": "常州市新北区河海路2号",
                        "primary": 0}],
         "items": [{"permit": "食品经营许可", "department": "market", "decision": 1,
                    "verified": 0, "decided_at": 1764288002000},
                   {"permit": "烟草专卖零售许可", "department": "tobacco", "decision": 3,
                    "verified": 1, "decided_at": 1764288003000}],
         "documents": [seq(0x90).hex()], "seq": 6, "head": seq(0x70).hex()},
        {"id": "PL-320411-2027-000002", "uscc": "91320411MA1XXXXX0X", "name": "面包房",
         "legal_rep": "李四", "industry": "bakery", "scope": "", "status": 1, "commitment": 1,
         "applied_at": 1800000000000, "issued_at": 0, "expires_at": 0,
         "verify_deadline": 0, "suspended_by": "", "next_address_id": 2,
         "addresses": [{"id": 1, "division": "320411", "text": "常州市新北区", "primary": 1}],
         "items": [{"permit": "食品经营许可", "department": "market", "decision": 0,
                    "verified": 0, "decided_at": 0}],
         "documents": [], "seq": 0, "head": seq(0x10).hex()},
    ]
    for r in recs:
        b = record_bytes(r)
        r["bytes"] = b.hex()
        r["hash"] = sha256(b).hex()
    return recs


# ---- the state tree ----

def bit(key, d): return (key[d // 8] >> (7 - d % 8)) & 1


def smt_leaf(k, v): return sha256(b"\x00" + k + v)
def smt_inner(l, r): return sha256(b"\x01" + l + r)


def smt_hash(pairs, d):
    if not pairs:
        return bytes(32)
    if len(pairs) == 1:
        return smt_leaf(*pairs[0])
    s0 = [p for p in pairs if bit(p[0], d) == 0]
    s1 = [p for p in pairs if bit(p[0], d) == 1]
    return smt_inner(smt_hash(s0, d + 1), smt_hash(s1, d + 1))


def smt_proof(pairs, key):
    """Siblings root first and where the path for key ends."""
    sib = []
    d = 0
    while len(pairs) > 1:
        s0 = [p for p in pairs if bit(p[0], d) == 0]
        s1 = [p for p in pairs if bit(p[0], d) == 1]
        if bit(key, d) == 0:
            sib.append(smt_hash(s1, d + 1))
            pairs = s0
        else:
            sib.append(smt_hash(s0, d + 1))
            pairs = s1
        d += 1
    end = {"end": "empty"} if not pairs else {"end": "leaf", "leaf_key": pairs[0][0].hex(),
                                              "leaf_value": pairs[0][1].hex()}
    end["siblings"] = [s.hex() for s in sib]
    return end


def smt_page(pairs, d, top):
    """Stored form of the page whose root node is at depth d (a multiple of 4)."""
    if not pairs:
        return b"\x02"
    if len(pairs) == 1:
        return b"\x00" + pairs[0][0] + pairs[0][1]
    if d == top + 4:
        return b"\x03" + smt_hash(pairs, d)
    s0 = [p for p in pairs if bit(p[0], d) == 0]
    s1 = [p for p in pairs if bit(p[0], d) == 1]
    return b"\x01" + smt_page(s0, d + 1, top) + smt_page(s1, d + 1, top)


def smt_vectors(records):
    k = seq(0x01)
    v = seq(0x02)
    out = {"leaf": {"key": k.hex(), "value": v.hex(), "hash": smt_leaf(k, v).hex()},
           "inner": {"left": k.hex(), "right": v.hex(), "hash": smt_inner(k, v).hex()},
           "trees": []}
    sets = [
        [("PL-320411-2026-000001", bytes.fromhex(records[0]["bytes"]))],
        [(r["id"], bytes.fromhex(r["bytes"])) for r in records],
        [("PL-320411-2026-%06d" % i, ("record %d" % i).encode()) for i in range(1, 41)],
    ]
    for s in sets:
        pairs = sorted((sha256(i.encode()), sha256(rec)) for i, rec in s)
        root = smt_hash(pairs, 0)
        t = {"records": [{"id": i, "record": rec.hex()} for i, rec in s],
             "root": root.hex(), "root_page": smt_page(pairs, 0, 0).hex(), "proofs": []}
        for pid in [s[0][0], s[-1][0], "PL-320411-2099-999999"]:
            p = smt_proof(pairs, sha256(pid.encode()))
            p["id"] = pid
            t["proofs"].append(p)
        out["trees"].append(t)
    return out


def merkle_root(leaves):
    """RFC 6962 root over leaf hashes."""
    if not leaves:
        return sha256(b"")
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return sha256(b"\x01" + merkle_root(leaves[:k]) + merkle_root(leaves[k:]))


def tx_root_vectors():
    out = []
    for n in (0, 1, 3, 5):
        envs = [bytes([1]) + seq(i, 96 + i) for i in range(n)]
        out.append({"envelopes": [e.hex() for e in envs],
                    "root": merkle_root([sha256(b"\x00" + e) for e in envs]).hex()})
    return out


def p2p_vectors():
    out = []
    for chain, own, peer, exp in [("permit-test", fill(1), fill(2), fill(3)),
                                  ("permitchain-320411-dev", seq(0x10), seq(0x30), seq(0x50))]:
        m = str_(chain) + h32(own) + h32(peer) + h32(exp)
        out.append({"chain_id": chain, "own_nonce": own.hex(), "peer_nonce": peer.hex(),
                    "exporter": exp.hex(), "bytes": m.hex(),
                    "hash": tagged_hash("permit/p2p/v2", m).hex()})
    return out


def bundle_vectors(headers, records, events, certs, smt):
    """A permit.ProofBundle on the wire (proto field numbers), carrying the
    canonical bytes of the vectors above: the decoder must hand back exactly
    those bytes in the right fields."""
    h = bytes.fromhex(headers[0]["bytes"])
    rec = bytes.fromhex(records[0]["bytes"])
    c = certs[0]
    commit = (pb_varint(1, c["height"]) + pb_varint(2, c["round"]) +
              pb_bytes(3, bytes.fromhex(c["block_hash"])))
    for s in c["sigs"]:
        commit += pb_msg(4, pb_varint(1, s["validator"]) + pb_bytes(2, bytes.fromhex(s["sig"])))
    proof = smt["trees"][1]["proofs"][0]
    # an empty subtree travels as an empty string (one bundle, one encoding): a
    # repeated element is there even when empty
    state = b"".join(pb_msg(1, b"" if bytes.fromhex(x) == bytes(32) else bytes.fromhex(x))
                     for x in proof["siblings"])
    state += pb_bytes(2, bytes.fromhex(proof["leaf_key"])) + pb_bytes(3, bytes.fromhex(
        proof["leaf_value"]))
    consistency = [seq(0xD0), seq(0xD1)]
    b = (pb_varint(1, 1) + pb_bytes(2, records[0]["id"].encode()) + pb_bytes(3, h) +
         pb_msg(4, commit) + pb_bytes(5, rec) + pb_msg(6, state) + pb_varint(7, 3))
    for x in consistency:
        b += pb_bytes(8, x)
    evs = []
    for i, e in enumerate(events):
        path = [seq(0xE0 + i), seq(0xF0 + i)]
        env = bytes([1]) + seq(0x30 + i, 120)
        m = (pb_bytes(1, bytes.fromhex(e["bytes"])) + pb_varint(2, 5 + i) +
             b"".join(pb_bytes(3, p) for p in path) + pb_bytes(4, env))
        b += pb_msg(9, m)
        evs.append({"event": e["bytes"], "log_index": 5 + i, "log_path": [p.hex() for p in path],
                    "tx": env.hex()})
    v = {"bytes": b.hex(), "license_id": records[0]["id"], "header": h.hex(),
         "record": rec.hex(), "commit_height": c["height"], "commit_round": c["round"],
         "commit_block_hash": c["block_hash"], "commit_sigs": c["sigs"],
         "state_siblings": proof["siblings"], "state_leaf_key": proof["leaf_key"],
         "state_leaf_value": proof["leaf_value"], "since_log_size": 3,
         "consistency": [x.hex() for x in consistency], "events": evs}
    # the same with a USCC record and its proof (fields 13, 14: 秒批), whose
    # proof here reuses the shape of the record's
    u = bytes.fromhex(uscc_record_vectors()[0]["bytes"])
    v2 = dict(v)
    v2["bytes"] = (b + pb_bytes(13, u) + pb_msg(14, state)).hex()
    v2["uscc_record"] = u.hex()
    return [v, v2]


# ---- the governance record ----

# x-only public keys from the BIP340 test vectors (indexes 0 to 3): the reader
# checks that every key is a point, so these are real keys
BIP340_PUB = [bytes.fromhex(h) for h in (
    "F9308A019258C31049344F85F89D5229B531C845836F99B08601F113BCE036F9",
    "DFF1D77F2A671C5F36183726DB2341BE58FEAE1DA2DECED843240F7B502BA659",
    "DD308AFEC5777E13121FA72B9CC1B7CC0139715309B086C960E18FD969774EB8",
    "25D1DFF95105F5253C4022F628A996AD3A0D95FBF21D468A1B33F8C160D8F517")]


def gov_industry(i):
    b = (str_(i["code"]) + str_(i["name"]) + u64(i["validity"]) + u64(i["renew_window"]) +
         u64(i["grace"]) + u8(i["commitment_allowed"]) + u64(i["verify_within"]) +
         u8(len(i["items"])))
    for permit, dept in i["items"]:
        b += str_(permit) + str_(dept)
    return b


def gov_change(c):
    b = u8(c["type"]) + str_(c.get("name", "")) + str_(c.get("department", ""))
    b += (u8(1) + h32(c["key"])) if "key" in c else u8(0)
    b += (u8(1) + h32(c["node_key"])) if "node_key" in c else u8(0)
    b += str_(c.get("p2p", "")) + str_(c.get("rpc", ""))
    b += (u8(1) + gov_industry(c["industry"])) if "industry" in c else u8(0)
    return b + str_(c.get("code", "")) + u64(c.get("value", 0))


def gov_record_vectors():
    return [gov_record_vector(False), gov_record_vector(True)]


def gov_record_vector(instant):
    """Version 1, or version 2 (秒批): the store's food permit instant and
    instant_ban 30 days, in the tail after the open proposals."""
    k = BIP340_PUB
    store = {"code": "convenience-store", "name": "便利店", "validity": 5 * 365 * 86400000,
             "renew_window": 90 * 86400000, "grace": 180 * 86400000, "commitment_allowed": 1,
             "verify_within": 30 * 86400000,
             "items": [["食品经营许可", "market"], ["烟草专卖零售许可", "approval"]]}
    gym = {"code": "gym", "name": "健身房", "validity": 3 * 365 * 86400000,
           "renew_window": 90 * 86400000, "grace": 180 * 86400000, "commitment_allowed": 0,
           "verify_within": 0, "items": [["高危险性体育项目经营许可", "market"]]}
    r = {"id": "GOV-320411", "seq": 4, "head": seq(0x40), "next_proposal": 3,
         "params": [32, 3600000, 10000, 16777216, 1000, 60000, 7 * 86400000],
         "departments": [{"id": "approval", "name": "行政审批局", "seal": k[0],
                          "seal_retired": 0},
                         {"id": "market", "name": "市场监督管理局", "seal": k[1],
                          "seal_retired": 1, "node": k[2], "p2p": "127.0.0.1:8646",
                          "rpc": ""}],
         "registrars": [["政务服务中心1号窗口", "approval", k[3]]],
         "observers": [],
         "industries": [store],
         "retired": sorted([seq(0x01), seq(0x20)]),
         "open": [{"id": 2, "proposer": "approval", "height": 7, "expires_at": 1764892800000,
                   "change": {"type": 8, "industry": gym}, "approvals": ["approval"]}]}
    p = r["params"]
    b = (u8(2 if instant else 1) + str_(r["id"]) + u32(r["seq"]) + h32(r["head"]) +
         u32(r["next_proposal"]))
    b += u32(p[0]) + u64(p[1]) + u32(p[2]) + u64(p[3]) + u64(p[4]) + u64(p[5]) + u64(p[6])
    b += u16(len(r["departments"]))
    for d in r["departments"]:
        b += str_(d["id"]) + str_(d["name"]) + h32(d["seal"]) + u8(d["seal_retired"])
        if "node" in d:
            b += u8(1) + h32(d["node"]) + str_(d["p2p"]) + str_(d["rpc"])
        else:
            b += u8(0)
    b += u16(len(r["registrars"]))
    for name, dept, key in r["registrars"]:
        b += str_(name) + str_(dept) + h32(key)
    b += u16(len(r["observers"]))
    b += u16(len(r["industries"]))
    for i in r["industries"]:
        b += gov_industry(i)
    b += u16(len(r["retired"]))
    for key in r["retired"]:
        b += h32(key)
    b += u16(len(r["open"]))
    for o in r["open"]:
        b += (u32(o["id"]) + str_(o["proposer"]) + u64(o["height"]) + u64(o["expires_at"]) +
              gov_change(o["change"]) + u8(len(o["approvals"])))
        for a in o["approvals"]:
            b += str_(a)
    v = {"region": "320411", "seq": r["seq"], "next_proposal": r["next_proposal"],
         "departments": [d["id"] for d in r["departments"]],
         "market_seal": k[1].hex(), "registrar": k[3].hex(),
         "open_proposal": 2, "open_change_type": 8, "open_industry": "gym"}
    if instant:
        ban = 30 * 86400000
        b += u64(ban)
        b += u16(0b01)                   # the store: item 0 (食品经营许可) instant
        b += u16(0)                      # the open proposal's gym: none
        v["instant_ban"] = ban
        v["instant_items"] = [[0, 0]]   # [industry, item]
    v["bytes"] = b.hex()
    v["hash"] = sha256(b).hex()
    return v


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    records = record_vectors()
    headers = header_vectors()
    events = event_vectors()
    certs = certificate_vectors()
    smt = smt_vectors(records)
    doc = {
        "about": "Known answers for docs/formats.md, computed by tests/vectors/gen.py "
                 "(Python hashlib, independent of the C code); checked by "
                 "tests/test_vectors.c. Hex is lowercase; integers are JSON numbers.",
        "tx": tx_vectors(),
        "vote": vote_vectors(),
        "proposal": proposal_vectors(),
        "header": headers,
        "certificate": certs,
        "event": events + [instant_event_vector()],
        "record": records + [holder_record_vector(), instant_record_vector()],
        "smt": smt,
        "tx_root": tx_root_vectors(),
        "p2p_auth": p2p_vectors(),
        "bundle": bundle_vectors(headers, records, events, certs, smt),
        "gov_record": gov_record_vectors(),
        "uscc_record": uscc_record_vectors(),
    }
    path = os.path.join(outdir, "formats.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print("wrote", path)


if __name__ == "__main__":
    main()
