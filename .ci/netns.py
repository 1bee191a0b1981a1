#!/usr/bin/env python3
"""A multi-host harness for PinMesh: N `pinmesh daemon` processes, each in a network namespace
of its own, joined by veth pairs to a bridge in one more namespace; faults as functions.

Python 3 standard library only; needs root (`ip netns`, `tc`, `mount`). Nothing is set up in
the root namespace: the addresses (10.77.0.<i>/24, the same in every run) exist only inside the
run's namespaces, whose names carry this process's id and a random suffix, so runs in
parallel do not clash. Everything made is undone by `Cluster.close()` (also on an exception, on
Ctrl-C and on SIGTERM: use the cluster as a context manager), and namespaces left by a run that
was killed outright are removed by the next one (`sweep_stale`).

    with Cluster(4, bin_dir=".build/debug", log=print) as c:
        c.start_all()
        c.partition({1, 2})          # peers 1 and 2 cannot reach 3 and 4, nor they them
        c.api(3, "POST", "/pins/<cid>")
        c.heal_all()

Peers are numbered from 1. Each peer's REST API (and its other HTTP listeners) listens on
127.0.0.1 inside its own namespace: the harness reaches it there (a thread that entered the
namespace with setns(2)), whatever fault cuts the peer's network. Faults:

- `cut(i)` / `uncut(i)`: the bridge's side of the peer's veth down (a pulled cable: the peer's
  packets are dropped silently, its sockets see no error) and up again;
- `partition(group)` / `heal_partition()`: every peer in `group` loses the others and they it
  (static neighbour entries with an unused MAC address on both sides: frames go nowhere;
  silent, needs no kernel module);
- `degrade(i, delay_ms, jitter_ms, loss_pct)` / `restore(i)`: delay and loss on both
  directions of the peer's link with `tc netem`; where the kernel has no netem (`features`
  says) loss is bursty instead - a thread drops everything on the link in windows of 40-160 ms,
  each with probability loss_pct (a u32 filter redirecting to a veth that is down) - and delay
  is approximated by a `tbf` rate limit (queueing delay under load only); the result says which;
- `kill9(i)` / `restart(i)`: SIGKILL, and a new daemon on the same config directory;
- `fill_disk(i)` / `free_disk(i)`: the peer's directory is a small tmpfs (peers named in
  `disk_peers`); filling writes a file until ENOSPC;
- `skew_clock(i, seconds)`: restarts the daemon under libfaketime (wall clock only) when
  libfaketime is installed (`faketime_lib()`); network namespaces have no clock of their own
  and Linux time namespaces offset only the monotonic clocks, so without it there is no skew.
"""
import base64
import contextlib
import ctypes
import http.client
import json
import math
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

CLONE_NEWNET = 0x40000000
SUBNET = "10.77.0"
BOGUS_MAC = "02:00:5e:00:77:01"
_libc = ctypes.CDLL(None, use_errno=True)


class Skip(Exception):
    """The harness cannot run here (not root, no namespaces); the message says why."""


class HarnessError(Exception):
    pass


def sh(*args, check=True, timeout=30, input=None):
    """Runs a command; returns its stdout. A failure raises with the command and its stderr."""
    try:
        p = subprocess.run(args, capture_output=True, text=True, timeout=timeout, input=input)
    except subprocess.TimeoutExpired:
        raise HarnessError(f"{' '.join(args)}: no answer within {timeout} s")
    if check and p.returncode != 0:
        raise HarnessError(f"{' '.join(args)}: exit {p.returncode}: {p.stderr.strip()}")
    return p.stdout


def in_netns(ns, fn, timeout):
    """Runs fn() on a thread that entered network namespace `ns`; returns its result or raises
    its exception; TimeoutError when it has not finished within `timeout` seconds (the thread is
    left to end on its own socket timeout)."""
    box = {}

    def go():
        try:
            fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), f"setns into {ns}")
            finally:
                os.close(fd)
            box["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - handed to the caller
            box["error"] = e

    t = threading.Thread(target=go, daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        raise TimeoutError(f"no answer within {timeout:.0f} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


def available():
    """None when namespaces can be used here, else why not (for a 'skipped:' line)."""
    if os.name != "posix" or not os.path.isdir("/proc/self/ns"):
        return "not Linux (network namespaces are Linux's)"
    if os.geteuid() != 0:
        return "needs root (ip netns, tc, mount); run it as root or in CI"
    for tool in ("ip", "tc", "mount", "umount"):
        if shutil.which(tool) is None:
            return f"'{tool}' is not installed (iproute2, util-linux)"
    probe = f"pmchaos-probe-{os.getpid()}-{random.randrange(1 << 16):04x}"
    try:
        sh("ip", "netns", "add", probe, timeout=10)
    except HarnessError as e:
        return f"cannot create a network namespace ({e})"
    try:
        sh("ip", "-n", probe, "link", "add", "a0", "type", "veth", "peer", "name", "a1", timeout=10)
        sh("ip", "-n", probe, "link", "add", "br0", "type", "bridge", timeout=10)
    except HarnessError as e:
        return f"veth pairs or bridges are not available ({e})"
    finally:
        sh("ip", "netns", "del", probe, check=False, timeout=10)
    return None


def probe_tc():
    """Which tc features the kernel has: {'netem': bool, 'mirred': bool, 'tbf': bool}."""
    ns = f"pmchaos-probe-{os.getpid()}-{random.randrange(1 << 16):04x}"
    found = {"netem": False, "mirred": False, "tbf": False}
    sh("ip", "netns", "add", ns, timeout=10)
    try:
        sh("ip", "-n", ns, "link", "add", "t0", "type", "veth", "peer", "name", "t1")
        sh("ip", "-n", ns, "link", "set", "t0", "up")
        tc = ["ip", "netns", "exec", ns, "tc"]
        for kind, args in (("netem", ["netem", "delay", "1ms"]), ("tbf", ["tbf", "rate", "1mbit", "burst", "32kb", "latency", "100ms"])):
            p = subprocess.run(tc + ["qdisc", "add", "dev", "t0", "root"] + args, capture_output=True)
            found[kind] = p.returncode == 0
            subprocess.run(tc + ["qdisc", "del", "dev", "t0", "root"], capture_output=True)
        subprocess.run(tc + ["qdisc", "add", "dev", "t0", "clsact"], capture_output=True)
        p = subprocess.run(
            tc + ["filter", "add", "dev", "t0", "egress", "protocol", "ip", "prio", "1", "u32", "match", "u16", "0", "0x0003", "at", "10",
                  "action", "mirred", "egress", "redirect", "dev", "t1"], capture_output=True)
        found["mirred"] = p.returncode == 0
    finally:
        sh("ip", "netns", "del", ns, check=False, timeout=10)
    return found


def faketime_lib():
    """libfaketime's path, if installed (Debian: `apt-get install libfaketime`)."""
    for d in ("/usr/lib/x86_64-linux-gnu/faketime", "/usr/lib/aarch64-linux-gnu/faketime", "/usr/lib/faketime", "/usr/local/lib/faketime"):
        p = os.path.join(d, "libfaketime.so.1")
        if os.path.exists(p):
            return p
    return None


def sweep_stale(log=lambda _m: None):
    """Removes namespaces of earlier runs whose process is gone (a run killed with SIGKILL)."""
    try:
        names = os.listdir("/run/netns")
    except FileNotFoundError:
        return
    for name in names:
        m = re.match(r"pmchaos-(\d+)-[0-9a-f]+-", name)
        if not m:
            continue
        pid = int(m.group(1))
        try:
            os.kill(pid, 0)
            continue
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        # Processes still inside are killed first, else the namespace outlives its name.
        out = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True).stdout.split()
        for p in out:
            with contextlib.suppress(OSError):
                os.kill(int(p), signal.SIGKILL)
        subprocess.run(["ip", "netns", "del", name], capture_output=True)
        log(f"removed namespace {name} left by an earlier run (process {pid} is gone)")


def sweep_stale_dirs(log=lambda _m: None):
    """Unmounts and removes the directories of earlier runs whose process is gone."""
    tmp = tempfile.gettempdir()
    try:
        with open("/proc/mounts") as f:
            mounts = [line.split()[1] for line in f]
    except OSError:
        mounts = []
    for name in os.listdir(tmp):
        m = re.match(r"pinmesh-chaos-(\d+)-", name)
        if not m:
            continue
        try:
            os.kill(int(m.group(1)), 0)
            continue
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        root = os.path.join(tmp, name)
        for mp in mounts:
            if mp.startswith(root + "/"):
                subprocess.run(["umount", "-l", mp], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
        log(f"removed {root} left by an earlier run (process {m.group(1)} is gone)")


def random_cid(rng):
    """A CIDv1 (raw, sha2-256) of 32 random bytes: content nobody has."""
    raw = bytes([0x01, 0x55, 0x12, 0x20]) + bytes(rng.getrandbits(8) for _ in range(32))
    return "b" + base64.b32encode(raw).decode().lower().rstrip("=")


class Peer:
    def __init__(self, index, prefix, root):
        self.index = index
        self.ns = f"{prefix}-p{index}"
        self.addr = f"{SUBNET}.{index}"
        self.port_if = f"vp{index}"  # the bridge's end of the peer's veth
        self.dir = os.path.join(root, f"peer{index}")
        self.out = os.path.join(root, f"peer{index}.out")
        self.log = os.path.join(root, f"peer{index}.log")
        self.proc = None
        self.starts = 0
        self.rest = None  # (host, port)
        self.cluster_ma = None
        self.peer_id = None
        self.tmpfs = False
        self.filler = None
        self.skew = 0

    @property
    def alive(self):
        return self.proc is not None and self.proc.poll() is None


class Cluster:
    """N peers in namespaces; see the module's docstring."""

    def __init__(self, n, bin_dir, log=print, disk_peers=(), disk_mb=64, config=None, keep_logs_on_failure=None):
        if n < 1 or n > 200:
            raise ValueError("1 to 200 peers")
        self.n = n
        self.bin = os.path.abspath(bin_dir)
        self.log = log
        self.disk_peers = set(disk_peers)
        self.disk_mb = disk_mb
        self.config = config or {}
        self.keep_logs_on_failure = keep_logs_on_failure
        self.prefix = f"pmchaos-{os.getpid()}-{random.SystemRandom().randrange(1 << 24):06x}"
        self.bridge_ns = f"{self.prefix}-br"
        self.root = tempfile.mkdtemp(prefix=f"pinmesh-chaos-{os.getpid()}-")
        self.peers = {i: Peer(i, self.prefix, self.root) for i in range(1, n + 1)}
        self.namespaces = []
        self.mounts = []
        self.blocked = set()  # (i, j): i's neighbour entry for j is bogus
        self.degraded = set()
        self.flappers = {}
        self.cut_peers = set()
        self.secret = os.urandom(32).hex()
        self.features = {}
        self.faketime = faketime_lib()
        self.lock = threading.RLock()
        self.closed = False
        self.failed = False  # set by a caller whose checks failed: the logs are kept then
        self._old_handlers = {}

    # ---- set-up and clean-up

    def __enter__(self):
        for sig in (signal.SIGTERM, signal.SIGHUP):
            self._old_handlers[sig] = signal.signal(sig, self._on_signal)
        try:
            self.setup()
        except BaseException:
            self.close(failed=True)
            raise
        return self

    def __exit__(self, et, ev, tb):
        self.close(failed=et is not None and not issubclass(et, (Skip, KeyboardInterrupt)))
        for sig, h in self._old_handlers.items():
            signal.signal(sig, h)
        return False

    def _on_signal(self, signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    def setup(self):
        sweep_stale(self.log)
        sweep_stale_dirs(self.log)
        self._snapshot_binaries()
        self.features = probe_tc()
        self._ns(self.bridge_ns)
        self.br("ip", "link", "add", "br0", "type", "bridge")
        self.br("ip", "link", "set", "br0", "up")
        for p in self.peers.values():
            self._ns(p.ns)
            sh("ip", "link", "add", "eth0", "netns", p.ns, "type", "veth", "peer", "name", p.port_if, "netns", self.bridge_ns)
            self.br("ip", "link", "set", p.port_if, "master", "br0")
            self.br("ip", "link", "set", p.port_if, "up")
            self.at(p.index, "ip", "link", "set", "lo", "up")
            self.at(p.index, "ip", "addr", "add", f"{p.addr}/24", "dev", "eth0")
            self.at(p.index, "ip", "link", "set", "eth0", "up")
            # A sink for dropped packets when the kernel has no netem (see degrade): a veth left down.
            self.at(p.index, "ip", "link", "add", "sink0", "type", "veth", "peer", "name", "sink1")
            self.br("ip", "link", "add", f"sk{p.index}", "type", "veth", "peer", "name", f"sl{p.index}")
            if p.index in self.disk_peers:
                os.makedirs(p.dir)
                sh("mount", "-t", "tmpfs", "-o", f"size={self.disk_mb}m,mode=0700", "tmpfs", p.dir)
                self.mounts.append(p.dir)
                p.tmpfs = True
        self.log(f"harness: {self.n} namespaces {self.prefix}-p1..p{self.n} on bridge {self.bridge_ns}, "
                 f"addresses {SUBNET}.1-{self.n}/24; tc: {', '.join(k for k, v in self.features.items() if v) or 'none'}; work dir {self.root}")

    def _snapshot_binaries(self, bound=120):
        """Copies pinmesh and pinmeshctl into the work directory and runs those: a build in
        the same tree (another engineer's, in a shared checkout) may rewrite .build/debug
        during the run. A copy taken while the linker writes is retried, within `bound` s."""
        src = self.bin
        if not os.path.exists(os.path.join(src, "pinmesh")):
            return  # no daemons wanted (the self-test), or init_peers says what is missing
        dst = os.path.join(self.root, "bin")
        os.makedirs(dst, exist_ok=True)
        deadline = time.monotonic() + bound
        while True:
            try:
                for name in ("pinmesh", "pinmeshctl"):
                    shutil.copy2(os.path.join(src, name), os.path.join(dst, name))
                    subprocess.run([os.path.join(dst, name), "--help"], capture_output=True, timeout=30, check=True)
                break
            except (OSError, subprocess.SubprocessError) as e:
                if time.monotonic() > deadline:
                    raise HarnessError(f"cannot take a working copy of {src}/pinmesh and pinmeshctl within {bound} s: {e}")
                time.sleep(1)  # a build is writing them: look again
        self.bin = dst

    def _ns(self, name):
        sh("ip", "netns", "add", name)
        self.namespaces.append(name)

    def close(self, failed=False):
        with self.lock:
            if self.closed:
                return
            self.closed = True
        for stop, t in self.flappers.values():
            stop.set()
            t.join(5)
        for p in self.peers.values():
            if p.proc is not None and p.proc.poll() is None:
                with contextlib.suppress(OSError):
                    p.proc.kill()
        for p in self.peers.values():
            if p.proc is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    p.proc.wait(10)
        for ns in reversed(self.namespaces):
            # Anything else still inside (a stray child) would keep the namespace alive.
            for pid in subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout.split():
                with contextlib.suppress(OSError):
                    os.kill(int(pid), signal.SIGKILL)
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        if (failed or self.failed) and self.keep_logs_on_failure:
            dest = self.keep_logs_on_failure
            os.makedirs(dest, exist_ok=True)
            for p in self.peers.values():
                for f in (p.out, p.log):
                    if os.path.exists(f):
                        shutil.copy(f, dest)
            self.log(f"harness: the peers' logs are kept in {dest}")
        for m in reversed(self.mounts):
            if subprocess.run(["umount", m], capture_output=True).returncode != 0:
                subprocess.run(["umount", "-l", m], capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)

    # ---- commands

    def br(self, *args):
        return sh("ip", "netns", "exec", self.bridge_ns, *args)

    def at(self, i, *args, check=True):
        return sh("ip", "netns", "exec", self.peers[i].ns, *args, check=check)

    # ---- peers

    def init_peers(self):
        """`pinmesh init` for every peer, then the listen addresses set to the peer's own."""
        for p in self.peers.values():
            sh(f"{self.bin}/pinmesh", "init", "--config", p.dir, "--secret", self.secret, "--peername", f"peer{p.index}", "--randomports")
            path = os.path.join(p.dir, "service.json")
            with open(path) as f:
                svc = json.load(f)
            svc["cluster"]["listen_multiaddress"] = [f"/ip4/{p.addr}/tcp/9096", f"/ip4/{p.addr}/udp/9096"]
            for dotted, value in self.config.items():
                node = svc
                keys = dotted.split(".")
                for k in keys[:-1]:
                    node = node.setdefault(k, {})
                node[keys[-1]] = value
            with open(path, "w") as f:
                json.dump(svc, f, indent=2)
            ipfs = os.path.join(p.dir, "ipfs", "config")
            if os.path.exists(ipfs):
                with open(ipfs) as f:
                    repo = json.load(f)
                repo.setdefault("Addresses", {})["Swarm"] = [f"/ip4/{p.addr}/tcp/4001"]
                with open(ipfs, "w") as f:
                    json.dump(repo, f, indent=2)

    def start(self, i, bootstrap=None, env_extra=None, ready_timeout=90):
        """Starts peer i's daemon (joining through `bootstrap`, a multiaddr) and waits until it
        printed its ready block (its `cluster` line), at most `ready_timeout` seconds."""
        p = self.peers[i]
        if p.alive:
            raise HarnessError(f"peer{i} runs already")
        p.starts += 1
        with open(p.log, "a") as f:
            f.write(f"==== harness: start #{p.starts} at {time.strftime('%H:%M:%S')} {'skew %+ds' % p.skew if p.skew else ''}\n")
        cmd = ["ip", "netns", "exec", p.ns, f"{self.bin}/pinmesh", "daemon", "--config", p.dir]
        if bootstrap:
            cmd += ["--bootstrap", bootstrap]
        env = dict(os.environ)
        env.update(env_extra or {})
        out = open(p.out, "w")
        err = open(p.log, "a")
        try:
            p.proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        finally:
            out.close()
            err.close()
        deadline = time.monotonic() + ready_timeout
        while True:
            text = open(p.out).read()
            m = re.search(r"^  cluster +(\S+)", text, re.M)
            if m:
                p.cluster_ma = m.group(1)
                rest = re.search(r"REST API +https?://([0-9.]+):(\d+)", text)
                pid = re.search(r"peer ID +(\S+)", text)
                p.rest = (rest.group(1), int(rest.group(2)))
                p.peer_id = pid.group(1)
                return p
            if p.proc.poll() is not None:
                raise HarnessError(f"peer{i}'s daemon exited ({p.proc.returncode}) before it was ready; its log:\n{tail(p.log)}")
            if time.monotonic() > deadline:
                raise HarnessError(f"peer{i}'s daemon printed no ready block within {ready_timeout} s; its log:\n{tail(p.log)}")
            time.sleep(0.05)

    def start_all(self):
        """Peer 1, then the others joining through it (one after the other)."""
        self.start(1)
        for i in range(2, self.n + 1):
            self.start(i, bootstrap=self.peers[1].cluster_ma)

    def bootstrap_for(self, i):
        """A running peer other than i to join through (the lowest-numbered), or None."""
        for j, q in self.peers.items():
            if j != i and q.alive and q.cluster_ma:
                return q.cluster_ma
        return None

    def kill9(self, i):
        p = self.peers[i]
        if p.alive:
            p.proc.send_signal(signal.SIGKILL)
            p.proc.wait(10)

    def stop(self, i, timeout=20):
        """SIGTERM (graceful), SIGKILL after `timeout` seconds."""
        p = self.peers[i]
        if p.alive:
            p.proc.terminate()
            try:
                p.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                p.proc.kill()
                p.proc.wait(10)

    def restart(self, i, env_extra=None):
        self.kill9(i)
        env = dict(env_extra or {})
        if self.peers[i].skew and self.faketime:
            env.update(self._faketime_env(self.peers[i].skew))
        return self.start(i, bootstrap=self.bootstrap_for(i), env_extra=env)

    # ---- faults

    def cut(self, i):
        """The peer's cable pulled at the bridge: its packets are dropped, silently."""
        self.br("ip", "link", "set", self.peers[i].port_if, "down")
        self.cut_peers.add(i)

    def uncut(self, i):
        self.br("ip", "link", "set", self.peers[i].port_if, "up")
        self.cut_peers.discard(i)

    def partition(self, group):
        """Peers in `group` and the rest cannot reach each other (both ways)."""
        group = set(group)
        rest = set(self.peers) - group
        for a in group:
            for b in rest:
                for x, y in ((a, b), (b, a)):
                    self.at(x, "ip", "neigh", "replace", self.peers[y].addr, "lladdr", BOGUS_MAC, "nud", "permanent", "dev", "eth0")
                    self.blocked.add((x, y))

    def heal_partition(self):
        for x, y in sorted(self.blocked):
            self.at(x, "ip", "neigh", "del", self.peers[y].addr, "dev", "eth0", check=False)
        self.blocked.clear()

    def degrade(self, i, delay_ms=0, jitter_ms=0, loss_pct=0):
        """Delay and loss on both directions of peer i's link. Returns what was applied."""
        p = self.peers[i]
        self.restore(i)
        self.degraded.add(i)
        sides = [(lambda *a: self.at(i, *a), "eth0", "sink0"), (self.br, p.port_if, f"sk{i}")]
        if self.features.get("netem"):
            args = []
            if delay_ms:
                args += ["delay", f"{delay_ms}ms"] + ([f"{jitter_ms}ms"] if jitter_ms else [])
            if loss_pct:
                args += ["loss", f"{loss_pct}%"]
            for run, dev, _ in sides:
                run("tc", "qdisc", "replace", "dev", dev, "root", "netem", *(args or ["delay", "0ms"]))
            return f"netem {' '.join(args)}"
        done = []
        if loss_pct and self.features.get("mirred"):
            # No netem: bursty loss instead. A thread drops everything on the link (a u32
            # match-all filter redirecting to a veth that is down) in windows of 40-160 ms,
            # each window dropped with probability loss_pct.
            for run, dev, _ in sides:
                run("tc", "qdisc", "replace", "dev", dev, "clsact")
            stop = threading.Event()
            rng = random.Random(f"{i}/{loss_pct}/{time.monotonic()}")

            def flap():
                dropping = False
                while not stop.is_set():
                    want = rng.random() * 100 < loss_pct
                    if want != dropping:
                        for run, dev, sink in sides:
                            if want:
                                run("tc", "filter", "add", "dev", dev, "egress", "protocol", "all", "prio", "1", "u32",
                                    "match", "u32", "0", "0", "at", "0", "action", "mirred", "egress", "redirect", "dev", sink)
                            else:
                                run("tc", "filter", "del", "dev", dev, "egress", "prio", "1")
                        dropping = want
                    stop.wait(rng.uniform(0.04, 0.16))
                if dropping:
                    for run, dev, _ in sides:
                        run("tc", "filter", "del", "dev", dev, "egress", "prio", "1")

            t = threading.Thread(target=lambda: _quiet(flap), daemon=True)
            t.start()
            self.flappers[i] = (stop, t)
            done.append(f"bursty loss {loss_pct}% (drop-all windows of 40-160 ms; no netem)")
        if delay_ms and self.features.get("tbf"):
            for run, dev, _ in sides:
                run("tc", "qdisc", "replace", "dev", dev, "root", "tbf", "rate", "512kbit", "burst", "8kb", "latency", f"{max(delay_ms, 50)}ms")
            done.append("rate 512 kbit/s (tbf; queueing delay under load only, no netem)")
        return ", ".join(done) or "nothing (no netem, mirred or tbf in this kernel)"

    def restore(self, i):
        p = self.peers[i]
        if i in self.flappers:
            stop, t = self.flappers.pop(i)
            stop.set()
            t.join(10)
        for run, dev in ((lambda *a: self.at(i, *a, check=False), "eth0"), (lambda *a: sh("ip", "netns", "exec", self.bridge_ns, *a, check=False), p.port_if)):
            run("tc", "qdisc", "del", "dev", dev, "root")
            run("tc", "qdisc", "del", "dev", dev, "clsact")
        self.degraded.discard(i)

    def fill_disk(self, i):
        """Fills peer i's tmpfs until ENOSPC. Returns the bytes written."""
        p = self.peers[i]
        if not p.tmpfs:
            raise HarnessError(f"peer{i}'s directory is no tmpfs: name it in disk_peers")
        p.filler = os.path.join(p.dir, "chaos-filler")
        written = 0
        fd = os.open(p.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            for size in (1 << 20, 4096, 1):
                chunk = b"\0" * size
                with contextlib.suppress(OSError):
                    while True:
                        written += os.write(fd, chunk)
        finally:
            os.close(fd)
        return written

    def free_disk(self, i):
        p = self.peers[i]
        if p.filler:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(p.filler)
            p.filler = None

    def _faketime_env(self, seconds):
        return {"LD_PRELOAD": self.faketime, "FAKETIME": f"{seconds:+d}s", "FAKETIME_DONT_FAKE_MONOTONIC": "1", "FAKETIME_DONT_RESET": "1"}

    def skew_clock(self, i, seconds):
        """Restarts peer i with its wall clock `seconds` off (libfaketime); raises Skip without it."""
        if not self.faketime:
            raise Skip("clock skew needs libfaketime (apt-get install libfaketime): a network namespace shares the wall clock, and time namespaces offset only monotonic clocks")
        self.peers[i].skew = seconds
        return self.restart(i)

    def heal_all(self, restart_dead=True):
        """Every fault undone: links up, partition healed, netem off, disks freed, clocks right,
        dead daemons started again. Returns the peers restarted."""
        for i in list(self.cut_peers):
            self.uncut(i)
        self.heal_partition()
        for i in list(self.degraded):
            self.restore(i)
        for i in self.peers:
            self.free_disk(i)
        restarted = []
        for i, p in self.peers.items():
            if p.skew:
                p.skew = 0
                self.kill9(i)
        if restart_dead:
            for i, p in self.peers.items():
                if not p.alive:
                    self.restart(i)
                    restarted.append(i)
        return restarted

    # ---- the REST API, from inside the peer's namespace

    def api(self, i, method, path, body=None, headers=None, timeout=15):
        """(status, body bytes) of one request to peer i's REST API. A connection failure or a
        time-out raises (OSError, TimeoutError, http.client.HTTPException)."""
        p = self.peers[i]
        if p.rest is None:
            raise ConnectionRefusedError(f"peer{i} has not started")
        host, port = p.rest

        def go():
            c = http.client.HTTPConnection(host, port, timeout=timeout)
            try:
                c.request(method, path, body=body, headers=headers or {})
                r = c.getresponse()
                return r.status, r.read()
            finally:
                c.close()

        return in_netns(p.ns, go, timeout + 2)

    def tcp_probe(self, src, dst, port=9096, timeout=1.0):
        """True when peer src can open a TCP connection to peer dst's cluster port."""
        addr = self.peers[dst].addr

        def go():
            with socket.create_connection((addr, port), timeout=timeout):
                return True

        try:
            return in_netns(self.peers[src].ns, go, timeout + 2)
        except (OSError, TimeoutError):
            return False


def _quiet(fn):
    """Runs fn, swallowing HarnessError (a flapper racing the namespace's removal)."""
    with contextlib.suppress(HarnessError):
        fn()


def ndjson(data):
    out = []
    for line in data.decode("utf-8", "replace").splitlines():
        line = line.strip()
        if line:
            out.append(json.loads(line))
    return out


def tail(path, lines=30):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return "(no log)"


def selftest(log=print):
    """The faults themselves, without PinMesh: TCP listeners in each namespace, probed across
    each fault and after its heal. `python3 .ci/netns.py` runs it."""
    why = available()
    if why:
        log(f"skipped: {why}")
        return 0
    failures = []

    def expect(what, got, want):
        log(f"  {'ok ' if got == want else 'BAD'} {what}: {'reachable' if got else 'unreachable'}")
        if got != want:
            failures.append(what)

    with Cluster(3, bin_dir=".", log=log, disk_peers={3}, disk_mb=8) as c:
        stop = threading.Event()
        for i in c.peers:
            def serve(addr=c.peers[i].addr):
                s = socket.socket()
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind((addr, 9096))
                s.listen(64)
                s.settimeout(0.2)
                return s
            srv = in_netns(c.peers[i].ns, serve, 5)

            def accept(s=srv):
                while not stop.is_set():
                    with contextlib.suppress(OSError):
                        s.accept()[0].close()
                s.close()
            threading.Thread(target=accept, daemon=True).start()
        try:
            expect("1 -> 2 at first", c.tcp_probe(1, 2), True)
            c.cut(2)
            expect("1 -> 2 with 2 cut", c.tcp_probe(1, 2), False)
            expect("1 -> 3 with 2 cut", c.tcp_probe(1, 3), True)
            c.uncut(2)
            expect("1 -> 2 after the heal", c.tcp_probe(1, 2, timeout=5), True)
            c.partition({1})
            expect("1 -> 2 across the partition", c.tcp_probe(1, 2), False)
            expect("3 -> 1 across the partition", c.tcp_probe(3, 1), False)
            expect("2 -> 3 on one side", c.tcp_probe(2, 3), True)
            c.heal_partition()
            expect("3 -> 1 after the heal", c.tcp_probe(3, 1, timeout=5), True)
            applied = c.degrade(2, delay_ms=100, loss_pct=25)
            log(f"  degrade 2: {applied}")
            ok = 0
            for _ in range(40):
                ok += c.tcp_probe(1, 2, timeout=0.5)
                time.sleep(0.05)  # spread over the drop windows (a pacing, not a wait for an event)
            log(f"  {ok}/40 connections 1 -> 2 within 0.5 s while degraded (a lost SYN is resent after 1 s)")
            if (c.features.get("netem") or c.features.get("mirred")) and ok == 40:
                failures.append("loss: no connection was lost")
            if ok == 0:
                failures.append("loss: every connection was lost")
            c.restore(2)
            expect("1 -> 2 restored", c.tcp_probe(1, 2, timeout=5), True)
            n = c.fill_disk(3)
            st = os.statvfs(c.peers[3].dir)
            log(f"  fill_disk 3: {n} bytes, {st.f_bavail * st.f_frsize} left")
            if st.f_bavail != 0:
                failures.append("fill_disk left space")
            c.free_disk(3)
            if os.statvfs(c.peers[3].dir).f_bavail == 0:
                failures.append("free_disk freed nothing")
        finally:
            stop.set()
        prefix = c.prefix
    left = [n for n in os.listdir("/run/netns") if n.startswith(prefix)] if os.path.isdir("/run/netns") else []
    if left:
        failures.append(f"namespaces left: {left}")
    log("selftest: " + ("ok" if not failures else "FAILED: " + "; ".join(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    import sys
    sys.exit(selftest())
