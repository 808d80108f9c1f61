#!/usr/bin/env python3
"""Checks docs/wire.md's test vectors with an independent HPKE implementation.

Uses pyhpke (pip install pyhpke), not Candor's Rust code: it parses the
vectors section of docs/wire.md, rebuilds the recipient key from skR, and for
every envelope checks the header layout, opens it with HPKE base mode
(info "candor report v1", header as AAD) and compares the plaintext with the
JSON printed beside it. The batch vector is split and checked the same way.

Usage: python3 tools/check_wire_vectors.py [docs/wire.md]
"""

import json
import re
import struct
import sys

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from pyhpke import AEADId, CipherSuite, KDFId, KEMId, KEMKey

INFO = b"candor report v1"


def blocks(text):
    """Yields (label line, fenced block body) pairs in document order."""
    for m in re.finditer(r"([^\n]*)\n```[a-z]*\n(.*?)\n```", text, re.S):
        yield m.group(1), m.group(2)


def hexblock(body):
    return bytes.fromhex("".join(body.split()))


def parse_header(env):
    assert env[:4] == b"CNDR", "magic"
    assert env[4] == 1, "version"
    key_id = env[5]
    kem, kdf, aead = struct.unpack(">HHH", env[6:12])
    r = env[12]
    region = env[13 : 13 + r].decode()
    p = env[13 + r]
    purpose = env[14 + r : 14 + r + p].decode()
    return key_id, (kem, kdf, aead), region, purpose, 14 + r + p


def main(path):
    text = open(path, encoding="utf-8").read()
    section = text.split("test-vectors:begin", 1)[1].split("test-vectors:end", 1)[0]
    items = list(blocks(section))
    keys = dict(line.split() for line in items[0][1].splitlines())
    suite = CipherSuite.new(KEMId.DHKEM_X25519_HKDF_SHA256, KDFId.HKDF_SHA256, AEADId.CHACHA20_POLY1305)
    private = X25519PrivateKey.from_private_bytes(bytes.fromhex(keys["skR"]))
    skr = KEMKey.from_pyca_cryptography_key(private)
    assert private.public_key().public_bytes_raw().hex() == keys["pkR"], "pkR does not match skR"
    config = json.loads(items[1][1])

    plaintexts, envelopes, batch = [], [], None
    for label, body in items[2:]:
        if label.startswith("Plaintext"):
            plaintexts.append(body.encode())
        elif label.startswith("Whole envelope"):
            envelopes.append(hexblock(body))
        elif label.startswith("Whole batch"):
            batch = hexblock(body)

    def check(env, expected):
        key_id, ids, region, purpose, hlen = parse_header(env)
        assert ids == (0x20, 0x01, 0x03), ids
        assert key_id == config["key_id"] and region == config["region"], (key_id, region)
        ctx = suite.create_recipient_context(env[hlen : hlen + 32], skr, info=INFO)
        pt = ctx.open(env[hlen + 32 :], aad=env[:hlen])
        assert pt == expected, "plaintext differs"
        report = json.loads(pt)
        assert report["region"] == region and report["purpose"] == purpose
        return purpose

    assert len(plaintexts) == len(envelopes) >= 1
    for env, pt in zip(envelopes, plaintexts):
        print(f"envelope ({check(env, pt)}): opened with pyhpke, plaintext matches")

    assert batch is not None and batch[:5] == b"CNDB\x01"
    (count,) = struct.unpack(">H", batch[5:7])
    pos, parts = 7, []
    for _ in range(count):
        (n,) = struct.unpack(">I", batch[pos : pos + 4])
        parts.append(batch[pos + 4 : pos + 4 + n])
        pos += 4 + n
    assert pos == len(batch), "trailing bytes"
    assert parts == envelopes, "batch does not hold the envelopes"
    print(f"batch of {count}: framing matches")
    print("all wire vectors verified independently")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs/wire.md")
