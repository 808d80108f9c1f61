#!/usr/bin/env python3
"""Checks docs/wire.md's test vectors with independent implementations.

Not Candor's Rust code:
- the envelope vectors (section 9) with pyhpke (pip install pyhpke): it
  rebuilds the recipient key from skR, and for every envelope checks the
  header layout, opens it with HPKE base mode (info "candor report v1",
  header as AAD) and compares the plaintext with the JSON printed beside it.
  The batch vector is split and checked the same way.
- the signature vectors (section 5.3) with the `cryptography` package's
  Ed25519: it rebuilds the key from the seed and the signed bytes from the
  region, the label and the payload, verifies the signature, signs again
  (Ed25519 is deterministic) and checks the served document and payload;
  and, the same way, the signed audit head's vector stated in docs/api.md
  ("Signed audit head"), read from beside the given wire.md.

A check whose Python module is missing is skipped with a message saying so
(the script then exits 0 only if the other check ran and passed).

Usage: python3 tools/check_wire_vectors.py [docs/wire.md]
"""

import json
import os
import re
import struct
import sys

INFO = b"candor report v1"
SIGNATURE_DOMAIN = b"candor signature v1"


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


def section_of(text, name):
    return text.split(name + ":begin", 1)[1].split(name + ":end", 1)[0]


def check_signature_vectors(text):
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    items = list(blocks(section_of(text, "signature-vectors")))
    by_label = {label.split(" (")[0].split(":")[0]: body for label, body in items}
    seed = hexblock(by_label["Signing key seed"])
    public = json.loads(by_label["Signing public key"])
    payload = by_label["Payload"].encode()
    signed = hexblock(by_label["Signed bytes"])
    signature = hexblock(by_label["Signature"])
    served = json.loads(by_label["Served document"])

    private = Ed25519PrivateKey.from_private_bytes(seed)
    assert public["algorithm"] == "ed25519"
    assert private.public_key().public_bytes_raw().hex() == public["public_key"], "public key"
    region = public["region"].encode()
    expected = SIGNATURE_DOMAIN + b"\0" + region + b"\0" + b"key-list" + b"\0" + payload
    assert signed == expected, "signed bytes differ from domain, region, label and payload"
    try:
        private.public_key().verify(signature, signed)
    except InvalidSignature:
        raise AssertionError("the signature does not verify") from None
    assert private.sign(signed) == signature, "signing again gives another signature"
    assert served["payload"].encode() == payload, "served payload differs"
    assert bytes.fromhex(served["signature"]) == signature, "served signature differs"
    listed = json.loads(payload)
    assert listed["region"] == public["region"], "payload region"
    assert listed["issued_at"] < listed["expires_at"], "validity"
    assert listed["keys"] and all(k["region"] == listed["region"] for k in listed["keys"])
    tampered = signed[:-2] + bytes([signed[-2] ^ 1]) + signed[-1:]
    try:
        private.public_key().verify(signature, tampered)
        raise AssertionError("a tampered payload verified")
    except InvalidSignature:
        pass
    print("key-list signature: verified with cryptography's Ed25519, signed bytes match")


def check_audit_head_vector(api_text):
    """The signed audit head's vector, stated in prose in docs/api.md."""

    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    m = re.search(
        r"signing seed 32 bytes of `0x([0-9a-f]{2})`\s*\(public key `([0-9a-f]{64})`\),\s*"
        r"region `([a-z0-9_-]+)`, seq (\d+), head 32 bytes of `0x([0-9a-f]{2})`, `signed_at` (\d+):"
        r"[^`]*`[^`]*`[^`]*`([0-9a-f]{128})`",
        api_text,
    )
    assert m, "docs/api.md has no audit-head test vector in the expected form"
    seed_byte, public_hex, region, seq, head_byte, signed_at, signature_hex = m.groups()
    private = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seed_byte) * 32)
    assert private.public_key().public_bytes_raw().hex() == public_hex, "audit head: public key"
    message = f"{seq}:{head_byte * 32}:{signed_at}".encode()
    signed = SIGNATURE_DOMAIN + b"\0" + region.encode() + b"\0" + b"audit-head" + b"\0" + message
    signature = bytes.fromhex(signature_hex)
    try:
        private.public_key().verify(signature, signed)
    except InvalidSignature:
        raise AssertionError("the audit-head signature does not verify") from None
    assert private.sign(signed) == signature, "audit head: signing again gives another signature"
    print("audit-head signature (docs/api.md): verified with cryptography's Ed25519")


def main(path):
    text = open(path, encoding="utf-8").read()
    ran = 0
    try:
        import cryptography  # noqa: F401
    except ImportError:
        print("SKIPPED signature vectors: Python module 'cryptography' is missing (pip install cryptography)")
    else:
        check_signature_vectors(text)
        api = os.path.join(os.path.dirname(path), "api.md")
        check_audit_head_vector(open(api, encoding="utf-8").read())
        ran += 1
    try:
        import pyhpke  # noqa: F401
    except ImportError:
        print("SKIPPED envelope vectors: Python module 'pyhpke' is missing (pip install pyhpke)")
    else:
        check_envelope_vectors(text)
        ran += 1
    if ran == 0:
        print("no check ran: install pyhpke (which brings cryptography)")
        return
    print("all wire vectors verified independently" if ran == 2 else "the vectors that could be checked verified")


def check_envelope_vectors(text):
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
    from pyhpke import AEADId, CipherSuite, KDFId, KEMId, KEMKey

    section = section_of(text, "test-vectors")
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


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs/wire.md")
