"""Writes Specs/vectors/bitswap.json: bitswap messages encoded by Google's protobuf library
(PyPI `protobuf`) from a .proto written from the bitswap spec (ipfs/specs
src/bitswap-protocol.md), compiled by `grpcio-tools`. Nothing of PinMesh's codec is used.

    python3 -m pip install --target /tmp/pybs protobuf grpcio-tools
    PYTHONPATH=/tmp/pybs python3 Tests/Compat/make_bitswap_vectors.py

Each message vector gives the encoding (hex) and what it holds; blocks carry the CID their
bytes hash to (sha2-256 by hashlib). `malformed` vectors are encodings a decoder must refuse.
"""
import hashlib, json, os, subprocess, sys, tempfile
from pathlib import Path

PROTO = """
syntax = "proto3";
package bitswap.pb;
message Message {
  message Wantlist {
    enum WantType { Block = 0; Have = 1; }
    message Entry {
      bytes block = 1;
      int32 priority = 2;
      bool cancel = 3;
      WantType wantType = 4;
      bool sendDontHave = 5;
    }
    repeated Entry entries = 1;
    bool full = 2;
  }
  message Block {
    bytes prefix = 1;
    bytes data = 2;
  }
  enum BlockPresenceType { Have = 0; DontHave = 1; }
  message BlockPresence {
    bytes cid = 1;
    BlockPresenceType type = 2;
  }
  Wantlist wantlist = 1;
  repeated bytes blocks = 2;
  repeated Block payload = 3;
  repeated BlockPresence blockPresences = 4;
  int32 pendingBytes = 5;
}
"""

work = tempfile.mkdtemp()
Path(work, "bitswap.proto").write_text(PROTO)
subprocess.run([sys.executable, "-m", "grpc_tools.protoc", f"-I{work}", f"--python_out={work}", "bitswap.proto"], check=True)
sys.path.insert(0, work)
import bitswap_pb2 as pb  # noqa: E402
import google.protobuf  # noqa: E402

B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
B32 = "abcdefghijklmnopqrstuvwxyz234567"


def base58(data):
    n = int.from_bytes(data, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = B58[r] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def base32(data):
    bits = "".join(f"{b:08b}" for b in data)
    bits += "0" * (-len(bits) % 5)
    return "".join(B32[int(bits[i:i + 5], 2)] for i in range(0, len(bits), 5))


def varint(n):
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def mh(data):
    return b"\x12\x20" + hashlib.sha256(data).digest()


def cid_v0(data):
    return mh(data)


def cid_v1(codec, data):
    return varint(1) + varint(codec) + mh(data)


def cid_text(raw):
    return base58(raw) if raw[0] == 0x12 else "b" + base32(raw)


def prefix(raw):
    if raw[0] == 0x12:
        return varint(0) + varint(0x70) + varint(0x12) + varint(32)
    codec = raw[1]  # the codecs used here are one-byte varints
    return varint(1) + varint(codec) + varint(0x12) + varint(32)


block_a = b"bitswap vector block A"
block_b = bytes(range(256)) * 3
block_c = b'\xa1\x61\x61\x01'  # dag-cbor {"a": 1}
block_pb = bytes.fromhex("0a020801")  # dag-pb: a UnixFS directory node with no links
empty = b""

messages = []


def add(name, m, blocks=(), payload=()):
    """Records `m` with what it holds; `payload` pairs each payload block's CID."""
    entry = {"name": name, "hex": m.SerializeToString().hex()}
    if m.HasField("wantlist"):
        entry["wantlist"] = {
            "full": m.wantlist.full,
            "entries": [{"cid": cid_text(e.block), "priority": e.priority, "cancel": e.cancel,
                         "wantType": e.wantType, "sendDontHave": e.sendDontHave} for e in m.wantlist.entries],
        }
    entry["blocks"] = [{"data": b.hex(), "cid": cid_text(cid_v0(b))} for b in m.blocks]
    entry["payload"] = [{"prefix": p.prefix.hex(), "data": p.data.hex(), "cid": cid_text(c)} for p, c in zip(m.payload, payload)]
    entry["blockPresences"] = [{"cid": cid_text(p.cid), "type": p.type} for p in m.blockPresences]
    entry["pendingBytes"] = m.pendingBytes
    messages.append(entry)


m = pb.Message()
add("empty message (no fields at all)", m)

m = pb.Message()
e = m.wantlist.entries.add(); e.block = cid_v0(block_pb); e.priority = 1
add("one want-block for a CIDv0, priority 1 (bitswap 1.0.0 form)", m)

m = pb.Message(); m.wantlist.full = True
e = m.wantlist.entries.add(); e.block = cid_v1(0x55, block_a); e.priority = 2147483647; e.wantType = pb.Message.Wantlist.Have; e.sendDontHave = True
e = m.wantlist.entries.add(); e.block = cid_v1(0x71, block_c); e.priority = 2147483646; e.sendDontHave = True
e = m.wantlist.entries.add(); e.block = cid_v0(block_b); e.priority = -5
e = m.wantlist.entries.add(); e.block = cid_v1(0x70, block_pb); e.cancel = True
add("full wantlist: want-have with sendDontHave, want-block, a negative priority, a cancel", m)

m = pb.Message()
m.wantlist.SetInParent()  # kubo always writes the wantlist field, empty when it has no wants
p = m.payload.add(); p.prefix = prefix(cid_v0(block_pb)); p.data = block_pb
p = m.payload.add(); p.prefix = prefix(cid_v1(0x55, block_a)); p.data = block_a
p = m.payload.add(); p.prefix = prefix(cid_v1(0x71, block_c)); p.data = block_c
bp = m.blockPresences.add(); bp.cid = cid_v1(0x55, block_b); bp.type = pb.Message.Have
bp = m.blockPresences.add(); bp.cid = cid_v0(b"nobody has this"); bp.type = pb.Message.DontHave
m.pendingBytes = 262144
add("a reply as kubo writes it: an empty wantlist, three payload blocks, HAVE and DONT_HAVE, pendingBytes", m,
    payload=[cid_v0(block_pb), cid_v1(0x55, block_a), cid_v1(0x71, block_c)])

m = pb.Message()
m.blocks.append(block_pb); m.blocks.append(block_b)
add("bitswap 1.0.0 blocks: raw bytes, CIDv0 of each", m)

m = pb.Message()
p = m.payload.add(); p.prefix = prefix(cid_v1(0x55, empty))
add("a payload block with no data (the empty raw block)", m, payload=[cid_v1(0x55, empty)])

m = pb.Message(); m.pendingBytes = -1
e = m.wantlist.entries.add(); e.block = cid_v0(block_a); e.priority = -2147483648; e.cancel = True; e.wantType = pb.Message.Wantlist.Have
add("int32 extremes: priority -2^31, pendingBytes -1 (10-byte varints)", m)

malformed = []


def bad(name, raw, code):
    malformed.append({"name": name, "hex": raw.hex(), "code": code})


m = pb.Message(); e = m.wantlist.entries.add(); e.block = cid_v0(block_a); e.wantType = 7
bad("want type 7", m.SerializeToString(), "malformed")
m = pb.Message(); bp = m.blockPresences.add(); bp.cid = cid_v0(block_a); bp.type = 2
bad("presence type 2", m.SerializeToString(), "malformed")
m = pb.Message(); e = m.wantlist.entries.add(); e.priority = 3
bad("a wantlist entry without a CID", m.SerializeToString(), "malformed")
m = pb.Message(); e = m.wantlist.entries.add(); e.block = b"\x01\x55\x12\x20" + b"\x00" * 31
bad("a CID whose digest is one byte short", m.SerializeToString(), "malformed")
m = pb.Message(); p = m.payload.add(); p.prefix = varint(2) + varint(0x55) + varint(0x12) + varint(32); p.data = block_a
bad("a payload prefix of CID version 2", m.SerializeToString(), "malformed")
m = pb.Message(); p = m.payload.add(); p.prefix = varint(0) + varint(0x55) + varint(0x12) + varint(32); p.data = block_a
bad("a version-0 payload prefix that is not dag-pb", m.SerializeToString(), "malformed")
m = pb.Message(); p = m.payload.add(); p.data = block_a
bad("a payload block without a prefix", m.SerializeToString(), "malformed")
m = pb.Message(); bp = m.blockPresences.add(); bp.type = 1
bad("a block presence without a CID", m.SerializeToString(), "malformed")

out = {
    "generator": f"Tests/Compat/make_bitswap_vectors.py (protobuf {google.protobuf.__version__}, grpcio-tools)",
    "messages": messages,
    "malformed": malformed,
}
dest = Path(__file__).resolve().parents[2] / "Specs" / "vectors" / "bitswap.json"
dest.write_text(json.dumps(out, indent=1) + "\n")
print(f"wrote {dest}: {len(messages)} messages, {len(malformed)} malformed")
