"""Writes Specs/vectors/libp2p.json: known answers for PinMesh's libp2p cores, computed by
py-libp2p (PyPI `libp2p` 0.8.1) and the packages it brings (`noiseprotocol`, `cryptography`).

    python3 -m pip install --target /tmp/py-libp2p libp2p==0.8.1
    PYTHONPATH=/tmp/py-libp2p python3 Tests/Compat/make_libp2p_vectors.py

- multistream: py-libp2p's `encode_delim` of each text.
- noise: a full `Noise_XX_25519_ChaChaPoly_SHA256` handshake by `noiseprotocol` (the library
  py-libp2p's Noise transport runs) with fixed static and ephemeral keys; payloads are
  py-libp2p's `NoiseHandshakePayload` signed by py-libp2p's Ed25519 keys; then transport
  messages each way (one frame per message, nonce counting from 0).
- signatures: identity payloads signed by an RSA-2048 key (py-libp2p), an ECDSA P-256 key
  (`cryptography`: PKIX DER key, DER signature over SHA-256, as go-libp2p encodes them) and a
  secp256k1 key (py-libp2p), with the peer ID py-libp2p derives.
- yamux: headers packed with py-libp2p's own `YAMUX_HEADER_FORMAT`.
- identify: py-libp2p's identify protobuf.
RSA and ECDSA keys are random: rerunning changes those vectors (all remain valid).
"""
import json, os, struct, sys

from noise.connection import NoiseConnection, Keypair
from cryptography.hazmat.primitives.asymmetric import ec, x25519
from cryptography.hazmat.primitives import hashes, serialization

from libp2p.utils.varint import encode_delim
from libp2p.crypto.ed25519 import Ed25519PrivateKey
from libp2p.crypto.rsa import RSAPrivateKey
from libp2p.crypto.secp256k1 import Secp256k1PrivateKey
from libp2p.crypto.pb import crypto_pb2
from libp2p.peer.id import ID
from libp2p.security.noise.messages import NoiseHandshakePayload, make_data_to_be_signed
from libp2p.crypto.x25519 import X25519PrivateKey as P2PX25519
from libp2p.stream_muxer.yamux.yamux import YAMUX_HEADER_FORMAT
from libp2p.identity.identify.pb import identify_pb2
from multiaddr import Multiaddr

H = lambda b: b.hex()
out = {"generator": "Tests/Compat/make_libp2p_vectors.py (py-libp2p 0.8.1, noiseprotocol, cryptography)"}

out["multistream"] = [
    {"text": t, "encoded": H(encode_delim(t.encode()))}
    for t in ["/multistream/1.0.0", "na", "/noise", "/yamux/1.0.0", "/ipfs/id/1.0.0", "/" + "x" * 200]
]

def x25519_pub(priv: bytes) -> bytes:
    return x25519.X25519PrivateKey.from_private_bytes(priv).public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)

def payload(id_key, static_priv: bytes) -> bytes:
    static_pub = P2PX25519.from_bytes(static_priv).get_public_key()
    sig = id_key.sign(make_data_to_be_signed(static_pub))
    return NoiseHandshakePayload(id_key.get_public_key(), sig).serialize()

i_id = Ed25519PrivateKey.new(bytes(range(1, 33)))
r_id = Ed25519PrivateKey.new(bytes(range(101, 133)))
keys = {n: bytes([b] * 32) for n, b in [("init_static", 0x11), ("init_ephemeral", 0x22), ("resp_static", 0x33), ("resp_ephemeral", 0x44)]}

def conn(initiator: bool):
    c = NoiseConnection.from_name(b"Noise_XX_25519_ChaChaPoly_SHA256")
    c.set_keypair_from_private_bytes(Keypair.STATIC, keys["init_static" if initiator else "resp_static"])
    c.set_keypair_from_private_bytes(Keypair.EPHEMERAL, keys["init_ephemeral" if initiator else "resp_ephemeral"])
    c.set_as_initiator() if initiator else c.set_as_responder()
    c.set_prologue(b"")
    c.start_handshake()
    return c

ini, res = conn(True), conn(False)
p_resp, p_init = payload(r_id, keys["resp_static"]), payload(i_id, keys["init_static"])
m1 = ini.write_message(b""); assert res.read_message(m1) == b""
m2 = res.write_message(p_resp); assert ini.read_message(m2) == p_resp
m3 = ini.write_message(p_init); assert res.read_message(m3) == p_init
assert ini.handshake_finished and res.handshake_finished
transport = []
for who, c, text in [("initiator", ini, b"hello"), ("initiator", ini, b"second message"), ("responder", res, b"reply"), ("responder", res, b"")]:
    transport.append({"from": who, "plaintext": H(text), "ciphertext": H(c.encrypt(text))})
out["noise"] = {
    "protocol": "Noise_XX_25519_ChaChaPoly_SHA256", "prologue": "",
    "init_identity_seed": H(bytes(range(1, 33))), "resp_identity_seed": H(bytes(range(101, 133))),
    **{k: H(v) for k, v in keys.items()},
    "init_peer_id": ID.from_pubkey(i_id.get_public_key()).to_base58(),
    "resp_peer_id": ID.from_pubkey(r_id.get_public_key()).to_base58(),
    "payloads": [H(b""), H(p_resp), H(p_init)],
    "messages": [H(m1), H(m2), H(m3)],
    "handshake_hash": H(ini.get_handshake_hash()),
    "transport": transport,
}

static_priv = bytes([0x55] * 32)
signed = make_data_to_be_signed(P2PX25519.from_bytes(static_priv).get_public_key())
sigs = []
rsa = RSAPrivateKey.new(2048)
sigs.append({"type": "rsa", "key": H(rsa.get_public_key().serialize()), "signature": H(rsa.sign(signed)),
             "peer_id": ID.from_pubkey(rsa.get_public_key()).to_base58(), "verifies": True})
ecp = ec.generate_private_key(ec.SECP256R1())
der = ecp.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
pb = crypto_pb2.PublicKey(key_type=crypto_pb2.ECDSA, data=der).SerializeToString()
sigs.append({"type": "ecdsa", "key": H(pb), "signature": H(ecp.sign(signed, ec.ECDSA(hashes.SHA256()))),
             "peer_id": ID.from_string(__import__("base58").b58encode(bytes([0x12, 0x20]) + __import__("hashlib").sha256(pb).digest()).decode()).to_base58(), "verifies": True})
k1 = Secp256k1PrivateKey.new()
sigs.append({"type": "secp256k1", "key": H(k1.get_public_key().serialize()), "signature": H(k1.sign(signed)),
             "peer_id": ID.from_pubkey(k1.get_public_key()).to_base58(), "verifies": False})
bad = bytearray(rsa.sign(signed)); bad[10] ^= 1
sigs.append({"type": "rsa", "key": H(rsa.get_public_key().serialize()), "signature": H(bytes(bad)),
             "peer_id": ID.from_pubkey(rsa.get_public_key()).to_base58(), "verifies": False})
out["signatures"] = {"static_private": H(static_priv), "static_public": H(x25519_pub(static_priv)), "signed": H(signed), "keys": sigs}

frames = [(0, 1, 1, 0), (0, 0, 1, 5), (1, 2, 2, 262144), (2, 1, 0, 0xdeadbeef), (2, 2, 0, 0xdeadbeef), (3, 0, 0, 1), (1, 4, 3, 0), (1, 8, 5, 0)]
names = {0: "data", 1: "windowUpdate", 2: "ping", 3: "goAway"}
out["yamux"] = [{"type": names[t], "flags": f, "stream": s, "length": l, "encoded": H(struct.pack(YAMUX_HEADER_FORMAT, 0, t, f, s, l))}
                for t, f, s, l in frames]

msg = identify_pb2.Identify(
    protocol_version="ipfs/0.1.0", agent_version="py-libp2p/0.8.1",
    public_key=i_id.get_public_key().serialize(),
    listen_addrs=[Multiaddr("/ip4/127.0.0.1/tcp/4001").to_bytes(), Multiaddr("/ip6/::1/tcp/4002").to_bytes()],
    observed_addr=Multiaddr("/ip4/127.0.0.1/tcp/55555").to_bytes(),
    protocols=["/ipfs/id/1.0.0", "/ipfs/ping/1.0.0", "/ipfs/bitswap/1.2.0"])
out["identify"] = {"encoded": H(msg.SerializeToString()), "agent_version": "py-libp2p/0.8.1", "protocol_version": "ipfs/0.1.0",
                   "listen_addrs": ["/ip4/127.0.0.1/tcp/4001", "/ip6/::1/tcp/4002"], "observed_addr": "/ip4/127.0.0.1/tcp/55555",
                   "protocols": ["/ipfs/id/1.0.0", "/ipfs/ping/1.0.0", "/ipfs/bitswap/1.2.0"],
                   "peer_id": ID.from_pubkey(i_id.get_public_key()).to_base58()}

path = os.path.join(os.path.dirname(__file__), "..", "..", "Specs", "vectors", "libp2p.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
print("wrote", os.path.normpath(path))
