"""Two kubo RPC client libraries, unchanged, against PinMesh's IPFS proxy (api.ipfsproxy).

Run by .ci/compat-proxy (which installs aioipfs and ipfshttpclient from PyPI and starts a
two-peer cluster of `pinmesh daemon`s):
    python3 Tests/Compat/proxy_clients.py <proxy port> <REST port of peer 0> <REST port of peer 1>
Exits non-zero on the first answer that differs from what is expected.
"""
import asyncio
import io
import json
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request
import warnings

warnings.simplefilter("ignore")
import aioipfs  # noqa: E402
import ipfshttpclient  # noqa: E402
from ipfshttpclient.client import Client  # noqa: E402  (connect() refuses daemons newer than 0.8)

proxy, rests = sys.argv[1], sys.argv[2:]


def check(cond, what):
    if not cond:
        print("FAIL:", what)
        sys.exit(1)
    print("ok:", what)


def rest(port, path):
    """(status, JSON or None) of a GET on a peer's REST API."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
            body = r.read()
            return r.status, json.loads(body) if body.strip() else None
    except urllib.error.HTTPError as e:
        return e.code, None


def eventually(cond, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.1)
    return cond()


def pinned_everywhere(cid):
    """Every peer's REST API has the pin, and reports it pinned on every peer."""
    for port in rests:
        status, g = rest(port, f"/pins/{cid}")
        if status != 200 or not g.get("peer_map"):
            return False
        if len(g["peer_map"]) != len(rests) or any(p["status"] != "pinned" for p in g["peer_map"].values()):
            return False
        if rest(port, f"/allocations/{cid}")[0] != 200:
            return False
    return True


def unpinned_everywhere(cid):
    return all(rest(port, f"/allocations/{cid}")[0] == 404 for port in rests)


def peers_seen(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/peers", timeout=10) as r:
            return sum(1 for line in r.read().splitlines() if line.strip())
    except (urllib.error.URLError, OSError):
        return 0


check(eventually(lambda: all(peers_seen(p) == len(rests) for p in rests)), "every peer sees the others")

# --- ipfshttpclient 0.8.0a2 ---
c = Client(f"/ip4/127.0.0.1/tcp/{proxy}/http")
check(c.id()["ID"].startswith("12D3KooW"), "ipfshttpclient: id (forwarded)")
check("Version" in c.version(), "ipfshttpclient: version (forwarded)")
data = os.urandom(700_000)
d = tempfile.mkdtemp()
with open(d + "/file.bin", "wb") as f:
    f.write(data)
added = c.add(d + "/file.bin")
cid = added["Hash"]
check(added["Name"] == "file.bin" and int(added["Size"]) > len(data), "ipfshttpclient: add answers kubo's fields")
check(c.cat(cid) == data, "ipfshttpclient: cat of the added file (forwarded)")
check(cid in c.pin.ls(type="recursive")["Keys"], "ipfshttpclient: pin ls lists the added root")
check(eventually(lambda: pinned_everywhere(cid)), "the added file is pinned on every peer, as the REST API shows")
check(c.pin.rm(cid)["Pins"] == [cid], "ipfshttpclient: pin rm")
check(eventually(lambda: unpinned_everywhere(cid)), "pin rm through the proxy removed the pin cluster-wide")
try:
    c.pin.rm(cid)
    check(False, "pin rm of an unpinned CID fails")
except ipfshttpclient.exceptions.ErrorResponse as e:
    check("not pinned" in str(e), "ipfshttpclient: pin rm of an unpinned CID fails with kubo's words")
check(c.pin.add(cid)["Pins"] == [cid], "ipfshttpclient: pin add")
check(eventually(lambda: pinned_everywhere(cid)), "pin add through the proxy pinned cluster-wide")
hello = c.add_bytes(b"hello world\n")
check(hello == "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o", "ipfshttpclient: add_bytes gives kubo's CID")
b = c.block.put(io.BytesIO(b"a block through the proxy"))
check(c.block.get(b["Key"]) == b"a block through the proxy", "ipfshttpclient: block put and get (forwarded)")
stat = c.repo.stat()
check(stat["RepoSize"] > len(data) and stat["StorageMax"] > 0, "ipfshttpclient: repo stat (summed over the cluster)")
removed = list(c.repo.gc())
check(all("Key" in r for r in removed), "ipfshttpclient: repo gc streams removed keys")
check(c.cat(cid) == data, "pinned content survives a cluster-wide gc")
c.close()


# --- aioipfs 0.7.1 ---
async def aio():
    client = aioipfs.AsyncIPFS(maddr=f"/ip4/127.0.0.1/tcp/{proxy}")
    try:
        ident = await client.core.id()
        check(ident["ID"].startswith("12D3KooW"), "aioipfs: id (forwarded)")
        check("Version" in await client.core.version(), "aioipfs: version (forwarded)")
        payload = os.urandom(300_000)
        entry = await client.core.add_bytes(payload)
        acid = entry["Hash"]
        check(await client.core.cat(acid) == payload, "aioipfs: add_bytes then cat")
        check(acid in (await client.pin.ls(pintype="recursive"))["Keys"], "aioipfs: pin ls lists it")
        check(eventually(lambda: pinned_everywhere(acid)), "aioipfs: the added bytes are pinned on every peer")
        lines = [x async for x in client.pin.add(acid)]
        check(lines[-1].get("Pins") == [acid], "aioipfs: pin add (NDJSON)")
        other = await client.core.add_bytes(os.urandom(1000), pin=False)
        ocid = other["Hash"]
        check(unpinned_everywhere(ocid), "aioipfs: add with pin=false leaves no cluster pin")
        up = await client.pin.update(acid, ocid)
        check(up["Pins"] == [acid, ocid], "aioipfs: pin update")
        check(eventually(lambda: pinned_everywhere(ocid) and unpinned_everywhere(acid)), "pin update moved the pin cluster-wide")
        rm = await client.pin.rm(ocid)
        check(rm["Pins"] == [ocid], "aioipfs: pin rm")
        check(eventually(lambda: unpinned_everywhere(ocid)), "aioipfs: pin rm removed it cluster-wide")
        blk = await client.block.get(cid)
        check(len(blk) > 0, "aioipfs: block get (forwarded)")
        st = await client.repo.stat()
        check(st["RepoSize"] > 0, "aioipfs: repo stat")
    finally:
        await client.close()


asyncio.run(aio())
print("IPFS proxy clients: all checks passed")
