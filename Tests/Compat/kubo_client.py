"""An existing kubo RPC client library, unchanged, against PinMesh's embedded IPFS node.

Run by .ci/compat (which installs ipfshttpclient from PyPI and starts `pinmesh ipfs daemon`):
    python3 Tests/Compat/kubo_client.py <port>
Exits non-zero on the first answer that differs from what kubo gives.
"""
import io
import os
import sys
import tempfile
import warnings

warnings.simplefilter("ignore")
import ipfshttpclient  # noqa: E402
from ipfshttpclient.client import Client  # noqa: E402  (connect() refuses daemons newer than 0.8)

HELLO = "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"  # echo "hello world" | ipfs add


def check(cond, what):
    if not cond:
        print("FAIL:", what)
        sys.exit(1)
    print("ok:", what)


c = Client(f"/ip4/127.0.0.1/tcp/{sys.argv[1]}/http")
check(c.id()["ID"].startswith("12D3KooW"), "id")
check("Version" in c.version(), "version")
check(c.add_bytes(b"hello world\n") == HELLO, "add_bytes gives kubo's CID")
check(c.cat(HELLO) == b"hello world\n", "cat")
check(c.cat(HELLO, offset=6, length=5) == b"world", "cat with offset and length")

d = tempfile.mkdtemp()
os.makedirs(d + "/tree/sub")
with open(d + "/tree/a.txt", "w") as f:
    f.write("alpha")
with open(d + "/tree/sub/b.txt", "w") as f:
    f.write("beta")
res = c.add(d + "/tree", recursive=True)
names = [x["Name"] for x in res]
check(names == ["tree/a.txt", "tree/sub/b.txt", "tree/sub", "tree"], "add -r reports files, then directories deepest first")
root = res[-1]["Hash"]
check(c.cat(root + "/sub/b.txt") == b"beta", "cat through a path")
check(root in c.pin.ls(type="recursive")["Keys"], "pin ls lists the added root")
check(c.pin.add(root)["Pins"] == [root], "pin add")
check(c.pin.rm(root)["Pins"] == [root], "pin rm")
try:
    c.pin.rm(root)
    check(False, "pin rm of an unpinned CID fails")
except ipfshttpclient.exceptions.ErrorResponse as e:
    check("not pinned" in str(e), "pin rm of an unpinned CID fails with kubo's message")

b = c.block.put(io.BytesIO(b"a block"))
check(c.block.get(b["Key"]) == b"a block", "block put and get")
check(c.block.stat(b["Key"])["Size"] == 7, "block stat")
stat = c.repo.stat()
check(stat["NumObjects"] > 0 and stat["StorageMax"] > 0, "repo stat")
removed = list(c.repo.gc())
check(all("Key" in r for r in removed), "repo gc streams removed keys")
check(c.cat(HELLO) == b"hello world\n", "pinned content survives gc")
print("kubo client: all checks passed")
