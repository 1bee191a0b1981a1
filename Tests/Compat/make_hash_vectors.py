#!/usr/bin/env python3
"""Writes Specs/vectors/hash-functions.json: digests of the multihash functions PinMesh's
importer computes, from Python's hashlib (OpenSSL and its own SHA-3 and BLAKE2), for inputs
that cover one absorb block, several, and the SHA-3 rates' boundaries.
keccak-* (the original Keccak padding) is not in hashlib: its two answers are the published
Keccak-256 values (Ethereum's empty hash and "abc")."""
import hashlib, json, os

inputs = {
    "empty": b"",
    "abc": b"abc",
    "a*135": b"a" * 135,  # one byte short of SHA3-256's and SHAKE-256's rate
    "a*136": b"a" * 136,  # exactly one block
    "a*200": b"a" * 200,
    "a*64": b"a" * 64,  # exactly one BLAKE2s block
    "a*65": b"a" * 65,
    "lin-1000": bytes((i * 31 + 7) % 251 for i in range(1000)),
}
funcs = {
    "sha1": lambda m: hashlib.sha1(m).digest(),
    "sha2-512": lambda m: hashlib.sha512(m).digest(),
    "dbl-sha2-256": lambda m: hashlib.sha256(hashlib.sha256(m).digest()).digest(),
    "sha3-224": lambda m: hashlib.sha3_224(m).digest(),
    "sha3-256": lambda m: hashlib.sha3_256(m).digest(),
    "sha3-384": lambda m: hashlib.sha3_384(m).digest(),
    "sha3-512": lambda m: hashlib.sha3_512(m).digest(),
    "shake-256": lambda m: hashlib.shake_256(m).digest(64),
    "blake2b-160": lambda m: hashlib.blake2b(m, digest_size=20).digest(),
    "blake2b-256": lambda m: hashlib.blake2b(m, digest_size=32).digest(),
    "blake2b-384": lambda m: hashlib.blake2b(m, digest_size=48).digest(),
    "blake2b-512": lambda m: hashlib.blake2b(m, digest_size=64).digest(),
    "blake2s-256": lambda m: hashlib.blake2s(m).digest(),
}
cases = []
for fname, f in funcs.items():
    for iname, data in inputs.items():
        cases.append({"function": fname, "input": iname, "data_hex": data.hex(), "digest": f(data).hex()})
cases += [
    {"function": "keccak-256", "input": "empty", "data_hex": "",
     "digest": "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"},
    {"function": "keccak-256", "input": "abc", "data_hex": b"abc".hex(),
     "digest": "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"},
]
out = os.path.join(os.path.dirname(__file__), "..", "..", "Specs", "vectors", "hash-functions.json")
with open(out, "w") as fh:
    json.dump({"source": "Tests/Compat/make_hash_vectors.py (Python hashlib)", "cases": cases}, fh, indent=1)
    fh.write("\n")
print(len(cases), "cases")
