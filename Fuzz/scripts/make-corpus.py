#!/usr/bin/env python3
"""Writes the seed corpora under Fuzz/Corpus/<target>/ (committed; rerun to regenerate).

Deterministic: the same files every time. The record encodings follow
Sources/Tollgate/Records/RecordCodecs.swift (Docs/architecture.md, "On-disk layout").
"""
import hashlib, os, random, shutil, struct, zlib

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Corpus")
rng = random.Random(0x7011)
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def write(target, items):
    folder = os.path.join(root, target)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    for data in items:
        data = data.encode() if isinstance(data, str) else bytes(data)
        name = hashlib.sha1(data).hexdigest()[:16]
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data)


def base62(value, width):
    digits = []
    for _ in range(width):
        digits.append(ALPHABET[value % 62])
        value //= 62
    return "".join(reversed(digits))


def key(prefix="tg_live_"):
    body = "".join(rng.choice(ALPHABET) for _ in range(30))
    return prefix + body + base62(zlib.crc32(body.encode()), 6)


# keys: valid keys, near misses, other prefixes (prefix \0 key).
keys = [key() for _ in range(8)]
items = list(keys)
items += [k[:-1] + ("A" if k[-1] != "A" else "B") for k in keys[:4]]      # bad checksum
items += [k[:-1] for k in keys[:2]] + [k + "0" for k in keys[:2]]        # wrong length
items += [k[:20] + "-" + k[21:] for k in keys[:2]]                       # bad character
items += ["", "tg_live_", "tg_test_" + keys[0][8:], "x" * 64, "x" * 65, "Bearer " + keys[1]]
items += ["tg_test_\0" + key("tg_test_"), "sk\0" + key("sk"), "a_b_c\0" + key("a_b_c"), "\0" + keys[2], "bad-prefix\0" + keys[3]]
write("keys", items)

# limits: specs and policy files.
specs = ["10/second", "1000/day", "5/month", "minute=100/minute:sliding", "20/second:token-bucket,burst=40",
         "ip=5/second,by=ip", "100/90s:gcra", "1/500ms,by=global", "org=1_000/1d,by=owner", "1000/day:sliding",
         "3/250µs", "7/2h:leaky,burst=3", "1/s:calendar", "2/month:calendar,by=all", " 4 / m ", "x=1/1us,by=user",
         "18446744073709551615/9223372036854775807us", "10/fortnight", "0/second", "10/second,colour=red", ""]
policies = [
    "tier free: 10/second day=1000/day\n",
    "# tiers\ntier free:     10/second  day=1000/day   # per key\n\n\ttier pro : 50/second:token-bucket,burst=100\tday=100000/day\r\n",
    "tier a:b.c-d_e: ip=20/second,by=ip\ntier internal:\n",
    "tier free: 1/s\ntier free: 2/s\n",
    "tier free 10/second\n",
    "limit 5/second\n",
    "tier partner: minute=600/minute:sliding ip=20/second,by=ip owner=5000/day,by=owner g=1/s,by=global\n",
    "tier x: " + " ".join(f"l{i}=1/s" for i in range(33)) + "\n",
]
write("limits", specs + policies)

# records: byte 0 = table (0 meta, 1 tiers, 2 keys, 3 counters, 4 usage, 5 audit, 6 format peek,
# 7 counter key alone), byte 1 = key length, then the key, then the value.
def u8(v): return struct.pack(">B", v)
def u16(v): return struct.pack(">H", v)
def u32(v): return struct.pack(">I", v)
def u64(v): return struct.pack(">Q", v & 0xFFFFFFFFFFFFFFFF)
def i64(v): return struct.pack(">q", v)
def i128(v): return (v & ((1 << 128) - 1)).to_bytes(16, "big")
def string(s): b = s.encode(); return u16(len(b)) + b
def opt(v, f): return b"\x00" if v is None else b"\x01" + f(v)
def lst(vs, f): return u16(len(vs)) + b"".join(f(v) for v in vs)

def limit(name, strategy, q, w, burst=None, subject=(1,)):
    sub = u8(subject[0]) + (string(subject[1]) if subject[0] == 3 else b"")
    return string(name) + u8(strategy) + u64(q) + i64(w) + opt(burst, u64) + sub

def frame(selector, key, value):
    return u8(selector) + u8(len(key)) + key + value

NOW = 1_767_225_600_000_000
tiers = [
    b"\x01" + string("free") + lst([limit("second", 1, 10, 1_000_000), limit("day", 5, 1000, 86_400_000_000)], lambda x: x),
    b"\x01" + string("pro") + lst([limit("b", 3, 50, 1_000_000, 100), limit("g", 4, 5, 90_000_000, 3, (3, "ip")),
                                   limit("o", 2, 9, 60_000_000, None, (2,)), limit("m", 6, 1, 1, None, (4,))], lambda x: x),
    b"\x01" + string("empty") + u16(0),
]
key_id = "key_" + "".join(rng.choice(ALPHABET) for _ in range(16))
primary = (b"\x01\x01" + string(key_id) + string("tg_live_ab12…") + string("acme") + string("") + string("free")
           + lst(["read", "admin:*"], string) + u8(1) + i64(NOW) + opt(NOW + 86_400_000_000, i64) + opt(None, i64)
           + opt(5, u64) + opt(5, lambda v: u64(v) + u8(1)) + i64(20_454) + lst([limit("x", 1, 1, 1_000)], lambda x: x)
           + lst([("k", "v"), ("team", "core")], lambda kv: string(kv[0]) + string(kv[1])) + opt(NOW, i64) + opt(None, i64))
revoked = (b"\x01\x01" + string(key_id) + string("p…") + string("o") + string("n") + string("t") + u16(0) + u8(3)
           + i64(-1) + opt(None, i64) + opt(-(1 << 63), i64) + opt(None, u64) + opt(None, u64) + i64(0) + u16(0) + u16(0)
           + opt(None, i64) + opt((1 << 63) - 1, i64))
rotated = b"\x01\x02" + string(key_id) + i64(NOW)
counter_keys = [b"\x01" + key_id.encode() + b"\x00second", b"\x02acme\x00day", b"\x03ip=10.0.0.1\x00ip", b"\x04\x00g"]
counters = [b"\x01" + i64(NOW) + b"\x01" + i64(NOW) + u64(3),
            b"\x01" + i64(NOW) + b"\x02" + i64(NOW) + u64(3) + u64(7),
            b"\x01" + i64(NOW) + b"\x03" + i128(50 * 1_000_000) + i64(NOW),
            b"\x01" + i64(-(1 << 63)) + b"\x04" + i128(-(1 << 127))]
usage_key = key_id.encode() + u32(20_454)
usage = b"\x01" + u64(10) + u64(2) + u64(12)
audit = [b"\x01" + i64(NOW) + u8(k) + string("cli") + string(key_id) + string("tier free → pro") for k in (1, 6, 9, 12)]
meta = [b"\x01" + u32(1) + string("00112233445566778899aabbccddeeff") + i64(NOW) + u8(1) + u8(0) + string("tg_live_") + u64(3),
        b"\x01" + u32(1) + string("ff") + i64(NOW) + u8(2) + u8(8) + bytes(range(8)) + string("sk_") + u64(0)]
items = [frame(0, b"store", m) for m in meta] + [frame(6, b"", m) for m in meta]
items += [frame(1, b"free", t) for t in tiers]
items += [frame(2, bytes(32), v) for v in (primary, revoked, rotated)]
items += [frame(3, k, c) for k in counter_keys for c in counters[:2]] + [frame(3, counter_keys[0], c) for c in counters[2:]]
items += [frame(4, usage_key, usage), frame(4, usage_key[:-4] + u32(0), usage)]
items += [frame(5, i64(NOW) + u64(1) + u16(0), a) for a in audit]
items += [frame(7, b"", k) for k in counter_keys]
items += [frame(2, bytes(32), primary[:len(primary) // 2]), frame(1, b"free", tiers[0] + b"\x00")]  # truncated, trailing
write("records", items)

# operations: each byte one choice; random sequences of several lengths.
write("operations", [bytes(rng.randrange(256) for _ in range(n)) for n in [8, 16, 24, 32, 48, 64, 96, 128, 160, 200, 256, 320, 400, 500] * 2])

# http: byte 0 picks the parser (0 key header, 1 Authorization, 2 X-Forwarded-For, 3 Forwarded,
# 4 resolve with X-Forwarded-For, 0x44 resolve with Forwarded, 0x84 an address or network);
# several header values are separated by 0x00.
k = keys[0]
items = [b"\x00" + v.encode() for v in [k, "  " + k + "\t", "", "x" * 70, "tg_live_\x01bad", k + "\0" + k, "\0" + k, "é" * 3]]
items += [b"\x01" + v.encode() for v in ["Bearer " + k, "bearer   " + k, "Basic dXNlcjpwYXNz", "Bearer", "Bearer ",
                                         "Bearer " + k + "\0Bearer " + k, "BeArEr\t" + k]]
items += [b"\x02" + v.encode() for v in ["203.0.113.7, 10.0.0.2", "203.0.113.7,10.0.0.2:8080, [2001:db8::1]:443",
                                         "unknown, 10.0.0.1", ", , 1.2.3.4", "::ffff:192.0.2.1", ",".join("10.0.0.%d" % i for i in range(40))]]
items += [b"\x03" + v.encode() for v in ["for=192.0.2.60;proto=http;by=203.0.113.43", 'for="[2001:db8:cafe::17]:4711"',
                                         "for=unknown, for=10.0.0.1", 'for=_hidden, for="_SEVKISEK"', 'for="unterminated',
                                         "proto=https", "for=1.2.3.4 , for=5.6.7.8;host=example.com"]]
items += [bytes([selector]) + v.encode() for selector, v in [
    (4, "10.0.0.1\x0010.0.0.0/8\x00203.0.113.7, 10.0.0.2"), (4, "203.0.113.9\x0010.0.0.0/8\x001.2.3.4"),
    (0x44, "127.0.0.1\x00127.0.0.1,::1\x00for=198.51.100.17"), (4, "\x0010.0.0.0/8\x001.1.1.1"),
    (0x44, '::1\x00::1/128\x00for="[2001:db8::5]:80", for=unknown\x00for=9.9.9.9'), (4, "10.1.1.1\x000.0.0.0/0\x00a, b, 8.8.8.8")]]
items += [b"\x84" + v.encode() for v in ["192.0.2.1", "2001:db8::1", "::ffff:192.0.2.1", "10.0.0.0/8", "fd00::/8", "1.2.3.4/33",
                                         "::/0", "1.2.3", "0.0.0.0/0", "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255"]]
write("http", items)
