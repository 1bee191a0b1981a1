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

# ls: kubo's Objects/Links shape, sorted by name, with UnixFS types (1 directory, 2 file).
hashes = {x["Name"]: x["Hash"] for x in res}
ls = c.ls(root)
links = ls["Objects"][0]["Links"]
check([(l["Name"], l["Type"], l["Size"]) for l in links] == [("a.txt", 2, 5), ("sub", 1, 0)], "ls lists a directory as kubo")
check(links[0]["Hash"] == hashes["tree/a.txt"] and ls["Objects"][0]["Hash"] == root, "ls names entries by CID and the object by its path")

# get: the library unpacks the tar stream (--archive); the tree comes back byte for byte.
out = tempfile.mkdtemp()
c.get(root, target=out)
with open(os.path.join(out, root, "a.txt")) as f, open(os.path.join(out, root, "sub", "b.txt")) as g:
    check(f.read() == "alpha" and g.read() == "beta", "get unpacks the directory added earlier to the same bytes")
out2 = tempfile.mkdtemp()
c.get(root + "/sub", target=out2, compress=True)
with open(os.path.join(out2, "sub", "b.txt")) as f:
    check(f.read() == "beta", "get with compress (gzip tar) unpacks a subdirectory")

# dag: put (dag-json in, dag-cbor stored), get, resolve; object stat; refs.
put = c.dag.put(io.BytesIO(b'{"hello":"world","n":[1,2],"o":{"k":"v"}}'))
dag_cid = put["Cid"]["/"]
check(dag_cid.startswith("bafyrei"), "dag put stores dag-cbor as CIDv1")
check(c.dag.get(dag_cid) == {"hello": "world", "n": [1, 2], "o": {"k": "v"}}, "dag get reads the object back")
check(c.dag.get(dag_cid + "/o") == {"k": "v"}, "dag get follows a path into the object")
check(c.dag.resolve(root + "/sub")["Cid"]["/"] == hashes["tree/sub"], "dag resolve walks UnixFS names")
node = c.dag.get(root)
check([l["Name"] for l in node["Links"]] == ["a.txt", "sub"] and node["Links"][0]["Hash"]["/"] == hashes["tree/a.txt"], "dag get prints dag-pb as kubo's dag-json")
st = c.object.stat(root)
check(st["Hash"] == root and st["NumLinks"] == 2 and st["CumulativeSize"] > st["BlockSize"] > 0, "object stat")
refs = c.unstable.refs(root)
check([r["Ref"] for r in refs] == [hashes["tree/a.txt"], hashes["tree/sub"]], "refs lists direct links")
fmt = c.unstable.refs(root, opts={"recursive": True, "format": "<linkname> <dst>"})
check([r["Ref"] for r in fmt][-1] == "b.txt " + hashes["tree/sub/b.txt"], "refs --format with <linkname>")

# key list, config, repo stat, cid (no cid section in this client: its request machinery).
keys = c.key.list()["Keys"]
check(keys[0]["Name"] == "self" and keys[0]["Id"].startswith("k51"), "key list shows the self key")
check(c.config.set("Datastore.StorageMax", "20GB")["Value"] == "20GB", "config set")
check(c.config.get()["Datastore"]["StorageMax"] == "20GB" and "PrivKey" not in c.config.get()["Identity"], "config show")
b32 = c._client.request("/cid/base32", (HELLO,), decoder="json")
check(b32[0]["Formatted"] == "bafybeicg2rebjoofv4kbyovkw7af3rpiitvnl6i7ckcywaq6xjcxnc2mby", "cid base32")
fm = c._client.request("/cid/format", (HELLO,), opts={"f": "%P"}, decoder="json")
check(fm[0]["Formatted"] == "cidv0-dag-pb-sha2-256-32", "cid format -f %P")
try:
    c.name.publish(root)
    check(False, "name publish is refused")
except ipfshttpclient.exceptions.ErrorResponse as e:
    check("not supported by PinMesh's embedded node" in str(e), "name publish says it is not supported")
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
# block rm (no method in this client: its request machinery): a pinned block is refused.
rm = c._client.request("/block/rm", (b["Key"], HELLO), decoder="json")
check(rm[0] == {"Hash": b["Key"]} and rm[1]["Hash"] == HELLO and rm[1]["Error"] == "pinned: recursive", "block rm removes, refuses a pinned block")
stat = c.repo.stat()
check(stat["NumObjects"] > 0 and stat["StorageMax"] > 0, "repo stat")
removed = list(c.repo.gc())
check(all("Key" in r for r in removed), "repo gc streams removed keys")
check(c.cat(HELLO) == b"hello world\n", "pinned content survives gc")
print("kubo client: all checks passed")
