"""The embedded node's gateway checked by independent code (run by .ci/compat-gateway).

argv: peer 1's gateway URL, peer 3's RPC API URL (.../api/v0), peer 1's PID, a work directory.
Content is added to peer 3 only; everything is read through peer 1's gateway.
"""
import asyncio
import hashlib
import json
import os
import sys
import urllib.error
import urllib.request
import uuid

from ipfs_car_decoder import FileByteStream, stream_bytes
from multiformats import CID

GW, API3, PID1, WORK = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


opener = urllib.request.build_opener(NoRedirect)


def get(path, headers=None, method="GET"):
    """One request, redirects not followed; (status, headers, body)."""
    req = urllib.request.Request(GW + path, headers=headers or {}, method=method)
    try:
        with opener.open(req, timeout=60) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def add(files, wrap=False):
    """POST /add to peer 3 (multipart, one part per (name, bytes)); returns the last Hash."""
    boundary = uuid.uuid4().hex
    body = b""
    for name, data in files:
        body += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
                 "Content-Type: application/octet-stream\r\n\r\n").encode() + data + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    q = "cid-version=1" + ("&wrap-with-directory=true" if wrap else "")
    req = urllib.request.Request(f"{API3}/add?{q}", data=body, method="POST",
                                 headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    with urllib.request.urlopen(req, timeout=120) as r:
        lines = [json.loads(l) for l in r.read().decode().splitlines() if l.strip()]
    return lines[-1]["Hash"]


def peak_rss(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def reset_peak(pid):
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def car_bytes(cid, car):
    path = os.path.join(WORK, f"{cid}.car")
    with open(path, "wb") as f:
        f.write(car)

    async def run():
        out = bytearray()
        async for chunk in stream_bytes(cid, FileByteStream(path)):
            out += chunk
        return bytes(out)
    return asyncio.run(run())


size = 24 << 20
data = os.urandom(size)
cid = add([("big.bin", data)])
print(f"added {size} bytes to peer 3 as {cid}")

reset = reset_peak(PID1)
before = peak_rss(PID1)
status, headers, body = get(f"/ipfs/{cid}")
after = peak_rss(PID1)
check(status == 200 and body == data, "the path gateway's bytes are the file's")
check(headers.get("Etag") == f'"{cid}"', "ETag is the CID")
check(headers.get("Cache-Control") == "public, max-age=29030400, immutable", "immutable Cache-Control")
check(headers.get("X-Ipfs-Path") == f"/ipfs/{cid}", "X-Ipfs-Path")
if reset:
    check(after - before < size // 2, f"peer 1's peak RSS grew {(after - before) >> 20} MiB serving a {size >> 20} MiB file (< half)")

status, headers, car = get(f"/ipfs/{cid}?format=car")
check(status == 200 and headers.get("Content-Type", "").startswith("application/vnd.ipld.car; version=1"), "CAR answer and type")
check(car_bytes(cid, car) == data, "ipfs-car-decoder rebuilds the file from the CAR")

status, headers, part = get(f"/ipfs/{cid}", {"Range": "bytes=1000000-1999999"})
check(status == 206 and part == data[1000000:2000000], "Range 206 bytes")
check(headers.get("Content-Range") == f"bytes 1000000-1999999/{size}", "Content-Range")
status, _, _ = get(f"/ipfs/{cid}", {"Range": f"bytes={size}-"})
check(status == 416, "unsatisfiable Range is 416")
status, headers, body = get(f"/ipfs/{cid}", method="HEAD")
check(status == 200 and body == b"" and headers.get("Content-Length") == str(size), "HEAD: length, no body")
status, _, body = get(f"/ipfs/{cid}", {"If-None-Match": f'"{cid}"'})
check(status == 304 and body == b"", "If-None-Match is 304")

status, headers, raw = get(f"/ipfs/{cid}?format=raw")
check(status == 200 and headers.get("Content-Type") == "application/vnd.ipld.raw", "raw block answer")
check(hashlib.sha256(raw).digest() == CID.decode(cid).raw_digest, "the raw block hashes to the CID (sha2-256)")

files = [("index.txt", b"hello from peer 3\n"), ("a b.json", b'{"x": 1}')]
root = add(files, wrap=True)
status, headers, body = get(f"/ipfs/{root}/a%20b.json")
check(status == 200 and body == b'{"x": 1}' and headers.get("Content-Type") == "application/json", "a file by path in a directory")
status, headers, _ = get(f"/ipfs/{root}")
check(status == 301 and headers.get("Location") == f"/ipfs/{root}/", "directory without slash redirects")
status, headers, body = get(f"/ipfs/{root}/")
check(status == 200 and b"a b.json" in body and headers.get("Content-Type") == "text/html; charset=utf-8", "directory listing")
status, _, car = get(f"/ipfs/{root}/index.txt?format=car")
sub = json.loads(urllib.request.urlopen(urllib.request.Request(f"{API3}/resolve?arg=/ipfs/{root}/index.txt", method="POST")).read())["Path"].split("/")[-1]
check(car_bytes(sub, car) == b"hello from peer 3\n", "ipfs-car-decoder reads the file at the path's end from the path CAR")

status, _, _ = get(f"/ipfs/{root}/missing")
check(status == 404, "a missing name is 404")
status, _, _ = get("/ipfs/not-a-cid")
check(status == 400, "a bad CID is 400")
status, _, _ = get("/ipns/example.com")
check(status == 501, "/ipns/ is 501")
status, _, _ = get(f"/ipfs/{root}/..%2F")
check(status == 400, "an escaped slash / '..' is 400")

if failures:
    print(f"{len(failures)} gateway checks failed")
    sys.exit(1)
print("gateway compat: all checks passed")
