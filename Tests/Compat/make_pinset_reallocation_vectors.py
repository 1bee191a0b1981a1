#!/usr/bin/env python3
"""Adds the re-allocation vectors to Specs/vectors/pinset.json (Specs/pinset-crdt.md,
"Re-allocation"), computed independently of the Swift code: DAG-CBOR written here by hand,
Ed25519 from pyca/cryptography, SHA-256 from hashlib.

It reads the file's author seed, its second node (which adds pins[1]) and pins[0]'s
allocations, and writes `reallocation`: a node re-allocating pins[1] to pins[0]'s second
allocation, the state after it, and the snapshot chunk holding the re-allocated element.

    python3 Tests/Compat/make_pinset_reallocation_vectors.py   # rewrites the section
"""
import base64
import hashlib
import json
import pathlib

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

VECTORS = pathlib.Path(__file__).resolve().parents[2] / "Specs" / "vectors" / "pinset.json"


def head(major, n):
    if n < 24:
        return bytes([major << 5 | n])
    for size, extra in ((1, 24), (2, 25), (4, 26), (8, 27)):
        if n < 1 << (8 * size):
            return bytes([major << 5 | extra]) + n.to_bytes(size, "big")
    raise ValueError(n)


class Link:
    def __init__(self, cid):
        self.cid = cid


def enc(v):
    if isinstance(v, bool) or v is None:
        raise TypeError("not used here")
    if isinstance(v, int):
        return head(0, v) if v >= 0 else head(1, -1 - v)
    if isinstance(v, bytes):
        return head(2, len(v)) + v
    if isinstance(v, str):
        b = v.encode()
        return head(3, len(b)) + b
    if isinstance(v, Link):
        return bytes([0xD8, 42]) + enc(b"\x00" + v.cid)
    if isinstance(v, list):
        return head(4, len(v)) + b"".join(enc(x) for x in v)
    if isinstance(v, dict):
        keys = sorted(v, key=lambda k: (len(k.encode()), k.encode()))
        return head(5, len(v)) + b"".join(enc(k) + enc(v[k]) for k in keys)
    raise TypeError(type(v))


def dec(b, i=0):
    """A minimal DAG-CBOR reader for the pin values (maps, ints, strings, bytes, lists)."""
    major, info = b[i] >> 5, b[i] & 31
    i += 1
    if info < 24:
        n = info
    else:
        size = {24: 1, 25: 2, 26: 4, 27: 8}[info]
        n = int.from_bytes(b[i:i + size], "big")
        i += size
    if major == 0:
        return n, i
    if major == 1:
        return -1 - n, i
    if major == 2:
        return bytes(b[i:i + n]), i + n
    if major == 3:
        return b[i:i + n].decode(), i + n
    if major == 4:
        out = []
        for _ in range(n):
            x, i = dec(b, i)
            out.append(x)
        return out, i
    if major == 5:
        out = {}
        for _ in range(n):
            k, i = dec(b, i)
            out[k], i = dec(b, i)
        return out, i
    raise ValueError(major)


def multibase32(cid):
    return "b" + base64.b32encode(cid).decode().lower().rstrip("=")


def cid_dag_cbor(data):
    return bytes([0x01, 0x71, 0x12, 0x20]) + hashlib.sha256(data).digest()


def main():
    doc = json.loads(VECTORS.read_text())
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(doc["author_seed"]))
    author = bytes.fromhex(doc["author_peer_id"])
    node2 = doc["nodes"][1]
    node2_cid = cid_dag_cbor(bytes.fromhex(node2["encoded"]))
    assert multibase32(node2_cid) == node2["cid"]
    pin = doc["pins"][1]
    value, end = dec(bytes.fromhex(pin["value"]))
    assert end == len(bytes.fromhex(pin["value"])) and "a" not in value
    moved_to = doc["pins"][0]["fields"]["allocations"][1]
    value["a"] = [bytes.fromhex(moved_to)]
    new_value = enc(value)
    unsigned = {
        "h": node2["height"] + 1,
        "p": [Link(node2_cid)],
        "u": [[bytes.fromhex(pin["cid"]), [node2_cid], value]],
        "v": 2,
        "w": author,
    }
    unsigned_bytes = enc(unsigned)
    signature = key.sign(b"pinmesh-pinset-v1:" + unsigned_bytes)
    encoded = enc(dict(unsigned, s=signature))
    node3_cid = cid_dag_cbor(encoded)
    chunk = enc({"e": [[bytes.fromhex(pin["cid"]), node2_cid, node2["height"], value, node3_cid, node2["height"] + 1]]})
    doc["reallocation"] = {
        "description": "A third node, after the two in `nodes`, re-allocating pins[1] (added by the second node) to pins[0]'s second allocation; the state after it; and the snapshot chunk holding the re-allocated element.",
        "key": pin["cid"],
        "targets": [node2["cid"]],
        "allocations": [moved_to],
        "value": new_value.hex(),
        "unsigned": unsigned_bytes.hex(),
        "signature": signature.hex(),
        "encoded": encoded.hex(),
        "cid": multibase32(node3_cid),
        "chunk": chunk.hex(),
    }
    VECTORS.write_text(json.dumps(doc, indent=2) + "\n")


if __name__ == "__main__":
    main()
