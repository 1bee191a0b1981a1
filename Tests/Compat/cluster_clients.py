"""Two existing ipfs-cluster REST client libraries, unchanged, against a `pinmesh daemon`.

Run by .ci/compat (which installs them from PyPI and starts the daemon):
    python3 Tests/Compat/cluster_clients.py <rest-api-port>
- ipfscluster 0.2.0 (over ipfshttpclient 0.4): version, id, add_bytes/add_str/add_json,
  pins add/ls/recover/rm, allocations, peers, health graph;
- asyncipfscluster 0.1.2 (aiohttp): add_bytes with a pin name, remove through /pins/ipfs/{cid}.
Exits non-zero on the first answer a library could not use or that differs from ipfs-cluster's.
"""
import asyncio
import sys
import warnings

warnings.simplefilter("ignore")
import ipfscluster  # noqa: E402
from asyncipfscluster import IPFSClient  # noqa: E402

HELLO = "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"  # echo "hello world" | ipfs add
LAMB = "QmZfF6C9j4VtoCsTp4KSrhYH47QMd3DNXVZBKaxJdhaPab"  # ipfscluster's own docstring example
port = sys.argv[1]


def check(cond, what):
    if not cond:
        print("FAIL:", what)
        sys.exit(1)
    print("ok:", what)


# --- ipfscluster (connect() itself calls /version) ---
c = ipfscluster.connect(f"/ip4/127.0.0.1/tcp/{port}/http")
check(c.version()["version"] != "", "ipfscluster: version")
me = c.id()
check(me["id"].startswith("12D3KooW") and me["peername"] != "", "ipfscluster: id")
added = c.add_bytes(b"hello world\n")
check(added["cid"] == HELLO and added["name"] == "bytes", "ipfscluster: add_bytes gives ipfs add's CID")
check(c.add_str("Mary had a little lamb")["cid"] == LAMB, "ipfscluster: add_str")
check(c.add_json({"one": 1})["cid"].startswith("Qm"), "ipfscluster: add_json")

pinned = c.pins.add(HELLO)
check(pinned[0]["cid"] == HELLO and pinned[0]["type"] == "pin", "ipfscluster: pins.add returns the pin")
listed = c.pins.ls(HELLO)
check(listed["cid"] == HELLO and me["id"] in listed["peer_map"], "ipfscluster: pins.ls(cid) has this peer")
check("status" in listed["peer_map"][me["id"]], "ipfscluster: peer_map entries carry a status")
first = c.pins.ls()
check("cid" in first and "peer_map" in first, "ipfscluster: pins.ls() decodes the stream")
recovered = c.pins.recover(HELLO)
check(recovered["cid"] == HELLO, "ipfscluster: pins.recover(cid) with local=true")
alloc = c.allocations.ls(HELLO)
check(alloc["cid"] == HELLO and alloc["mode"] == "recursive", "ipfscluster: allocations.ls(cid)")
check(c.peers.ls()["id"] == me["id"], "ipfscluster: peers.ls")
graph = c.health.graph()
check(graph["cluster_id"] == me["id"] and me["id"] in graph["cluster_to_ipfs"], "ipfscluster: health.graph")
removed = c.pins.rm(HELLO)
check(removed[0]["cid"] == HELLO, "ipfscluster: pins.rm returns the pin")


# --- asyncipfscluster ---
async def run_async():
    client = IPFSClient(f"http://127.0.0.1:{port}")
    async with client:
        cid = await client.add_bytes(b"hello world\n", "text/plain", filename="hello.txt", name="hi")
        check(cid == HELLO, "asyncipfscluster: add_bytes (quieter) gives ipfs add's CID")
        await client.remove(cid)
        check(True, "asyncipfscluster: remove through /pins/ipfs/{cid}")


asyncio.run(run_async())

# The removal went through: the allocation is gone.
try:
    c.allocations.ls(HELLO)
except ipfscluster.exceptions.StatusError as e:
    check("404" in str(e), "the pin is gone after remove (404)")
else:
    check(False, "the pin is gone after remove")
print("all cluster client checks passed")
