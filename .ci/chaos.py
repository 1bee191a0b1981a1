#!/usr/bin/env python3
"""The chaos suite (run it as `bash .ci/chaos`; Specs/chaos-harness.md says what it checks).

N `pinmesh daemon` peers in network namespaces (netns.py). Each round: a seeded schedule of
faults (a cable cut, a partition, delay and loss, kill -9 and restart, a full disk) while
seeded writers pin, unpin and add through random running peers, noting which writes were
acknowledged (2xx). At the round's end every fault is healed, and within a bound every peer must
hold every acknowledged pin, no acknowledged unpin, and the same pinset as the others (a write
that failed or timed out may be present or absent, but everywhere alike); the time that took is
printed. Exit 0 when every round held, 1 with an account otherwise, 0 with "skipped: …" where
network namespaces cannot be made.

    .ci/chaos                         # CI: 5 peers, 60 s of faults in 2 rounds (~2-3 min in all)
    .ci/chaos --seed 1234             # replays that seed's schedule
    .ci/chaos --minutes 30 --json     # soak: rounds until the time is up, a JSON report
"""
import argparse
import collections
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netns  # noqa: E402
from netns import Cluster, HarnessError, Skip, ndjson, random_cid, tail  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# What the chaos peers change from `pinmesh init`'s defaults, and why:
CHAOS_CONFIG = {
    # Pins of content nobody has (most of the writes) fail after 10 s without progress instead
    # of 2 min, and 64 run at once instead of 10: otherwise they fill the trackers' slots for
    # minutes and the adds' pins wait queued behind them past every bound of a round.
    "ipfs_connector.ipfshttp.pin_timeout": "10s",
    "pin_tracker.stateless.concurrent_pins": 64,
}

# `--no-repinning`: a peer seen dead is not replaced (to tell repinning's part in a failure from
# the rest). CI runs with repinning on, the default: moving a dead peer's pins once undid a
# concurrent acknowledged unpin (seeds 22, 33, 202, 1001) and left an add pinned nowhere (seed
# 22); both are fixed (Specs/chaos-harness.md, "Found and fixed").
NO_REPINNING = {"cluster.disable_repinning": True}

REQUEST_TIMEOUT = 15  # a write not answered in this long counts as not acknowledged
CONVERGE_TIMEOUT = 90  # after the heal, for every peer to hold the same, expected pinset
AGREE_TIMEOUT = 30  # then for their pin records (allocations) to be the same
STATUS_TIMEOUT = 60  # then for the adds' allocated peers to report pinned (or an error)
POLL = 0.25  # between two looks at the pinsets (each look is bounded by its own timeout)


class Write:
    __slots__ = ("kind", "cid", "peer", "started", "ended", "status", "error", "acked", "round", "note")

    def __init__(self, kind, cid, peer, rnd):
        self.kind, self.cid, self.peer, self.round = kind, cid, peer, rnd
        self.started = self.ended = None
        self.status = self.error = self.note = None
        self.acked = False

    def describe(self, t0):
        what = f"{self.status}" if self.status is not None else f"no answer ({self.error})"
        at = f"{self.started - t0:.1f}-{self.ended - t0:.1f}s" if self.ended else f"{self.started - t0:.1f}s-"
        return f"{self.kind} through peer{self.peer} at {at} (round {self.round}): {what}"


class Book:
    """Every write and its outcome, by CID."""

    def __init__(self):
        self.lock = threading.Lock()
        self.pins = {}  # cid -> Write (pin or add)
        self.unpins = {}  # cid -> Write
        self.order = []
        self.adds = set()

    def unpin_candidate(self, rng):
        with self.lock:
            done = [c for c in self.order if c not in self.unpins and self.pins[c].ended is not None]
            if not done:
                return None
            cid = rng.choice(done)
            self.unpins[cid] = None  # reserved: no other writer unpins it
            return cid

    def expected_present(self):
        return {c for c, w in self.pins.items() if w.acked and c not in self.unpins}

    def expected_absent(self):
        return {c for c, w in self.unpins.items() if w is not None and w.acked}

    def counts(self, rnd=None):
        n = collections.Counter()
        for w in list(self.pins.values()) + [w for w in self.unpins.values() if w is not None]:
            if rnd is not None and w.round != rnd:
                continue
            n[f"{w.kind}"] += 1
            n[f"{w.kind} acknowledged" if w.acked else f"{w.kind} not acknowledged"] += 1
        return n


def summary(n):
    """'pins 140/141 acknowledged, adds 48/50, unpins 71/73' from Book.counts()."""
    parts = [f"{kind}s {n[kind + ' acknowledged']}/{n[kind]}" for kind in ("pin", "add", "unpin") if n[kind]]
    return (", ".join(parts) + " acknowledged") if parts else "no writes"


def only_hash(bin_dir, path):
    out = subprocess.run([f"{bin_dir}/pinmeshctl", "add", "--only-hash", "-Q", path], capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise HarnessError(f"pinmeshctl add --only-hash: {out.stderr.strip()}")
    return out.stdout.strip().splitlines()[-1]


class Writer(threading.Thread):
    """Pins (random CIDv1 raw CIDs nobody has), unpins and adds (small files through /add)
    through random running peers, one request at a time, until stopped."""

    def __init__(self, k, seed, cluster, book, bin_dir, workdir, clock):
        super().__init__(daemon=True, name=f"writer{k}")
        self.k = k
        self.rng = random.Random(f"{seed}/writer{k}")
        self.c, self.book, self.bin, self.workdir, self.clock = cluster, book, bin_dir, workdir, clock
        self.stop = threading.Event()
        self.round = 0
        self.serial = 0
        self.crash = None

    def target(self):
        n = self.c.n
        first = self.rng.randrange(1, n + 1)
        for d in range(n):
            i = (first - 1 + d) % n + 1
            if self.c.peers[i].alive and self.c.peers[i].rest:
                return i
        return first

    def run(self):
        try:
            while not self.stop.is_set():
                op = self.rng.choices(["pin", "unpin", "add"], weights=[55, 25, 20])[0]
                i = self.target()
                if op == "pin":
                    self.pin(i)
                elif op == "unpin":
                    self.unpin(i)
                else:
                    self.add(i)
                self.stop.wait(self.rng.uniform(0.05, 0.3))  # pacing between writes
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            self.crash = e

    def request(self, w, method, path, body=None, headers=None):
        w.started = self.clock()
        try:
            status, data = self.c.api(w.peer, method, path, body=body, headers=headers, timeout=REQUEST_TIMEOUT)
            w.status = status
            return status, data
        except Exception as e:  # noqa: BLE001 - any failure is "not acknowledged"
            w.error = f"{type(e).__name__}: {e}"
            return None, b""
        finally:
            w.ended = self.clock()

    def pin(self, i):
        cid = random_cid(self.rng)
        rmin = self.rng.choice([1, 1, 2])
        w = Write("pin", cid, i, self.round)
        with self.book.lock:
            self.book.pins[cid] = w
        status, _ = self.request(w, "POST", f"/pins/{cid}?replication-min={rmin}&replication-max={rmin + 1}&name=chaos-{self.k}-{self.serial}")
        self.serial += 1
        w.acked = status is not None and 200 <= status < 300
        with self.book.lock:
            self.book.order.append(cid)

    def unpin(self, i):
        cid = self.book.unpin_candidate(self.rng)
        if cid is None:
            return
        w = Write("unpin", cid, i, self.round)
        with self.book.lock:
            self.book.unpins[cid] = w
        status, _ = self.request(w, "DELETE", f"/pins/{cid}")
        w.acked = status is not None and 200 <= status < 300

    def add(self, i):
        name = f"chaos-{self.k}-{self.serial}.bin"
        self.serial += 1
        data = f"pinmesh chaos, writer {self.k}, file {name}\n".encode() + self.rng.randbytes(self.rng.randrange(100, 64 * 1024))
        path = os.path.join(self.workdir, name)
        with open(path, "wb") as f:
            f.write(data)
        cid = only_hash(self.bin, path)
        os.unlink(path)
        w = Write("add", cid, i, self.round)
        with self.book.lock:
            self.book.pins[cid] = w
            self.book.adds.add(cid)
        b = f"pinmeshchaos{self.rng.getrandbits(64):016x}"
        body = (f"--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
                f"Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{b}--\r\n".encode()
        status, out = self.request(w, "POST", "/add?replication-min=2&replication-max=3", body=body,
                                   headers={"Content-Type": f"multipart/form-data; boundary={b}"})
        if status == 200:
            try:
                lines = ndjson(out)
            except ValueError as e:
                lines = []
                w.error = f"unreadable answer: {e}"
            roots = [x.get("cid") for x in lines if x.get("name") == name]
            if roots and roots[-1] != cid:
                w.note = f"the add answered {roots[-1]}, pinmeshctl --only-hash said {cid}"
                with self.book.lock:
                    self.book.pins[roots[-1]] = w
                w.cid = roots[-1]
            w.acked = bool(roots)
            if not roots and not w.error:
                w.error = "200 without the file's line (the stream ended with an error)"
        with self.book.lock:
            self.book.order.append(w.cid)


def make_schedule(rng, n, length, disk_peer, skew):
    """Faults of one round: [(start, end, kind, peers)], at most two at once, one partition and
    one kill at a time, no peer in two faults at once."""
    kinds = ["cut", "partition", "degrade", "kill"] + (["disk"] if disk_peer else []) + (["skew"] if skew else [])
    out = []
    t = rng.uniform(1.0, 3.0)
    while t < length - 5:
        live = [f for f in out if f[1] > t]
        kind = rng.choice(kinds)
        dur = min(rng.uniform(3.0, 10.0), length - 1.0 - t)
        busy = {p for f in live for p in f[3]}
        free = [p for p in range(1, n + 1) if p not in busy]
        peers = None
        if len(live) < 2 and dur >= 2:
            if kind == "partition" and not any(f[2] == "partition" for f in live) and not busy:
                size = rng.randint(1, max(1, n // 2))
                peers = tuple(sorted(rng.sample(range(1, n + 1), size)))
            elif kind == "kill" and not any(f[2] == "kill" for f in live) and free:
                peers = (rng.choice(free),)
            elif kind == "disk" and disk_peer in free:
                peers = (disk_peer,)
            elif kind in ("cut", "degrade", "skew") and free:
                peers = (rng.choice(free),)
        if peers:
            extra = {}
            if kind == "degrade":
                extra = {"delay_ms": rng.choice([20, 50, 150, 300]), "jitter_ms": rng.choice([0, 10, 50]), "loss_pct": rng.choice([0, 5, 20, 40])}
            if kind == "skew":
                extra = {"seconds": rng.choice([-120, -30, 30, 120, 3600])}
            out.append((round(t, 2), round(t + dur, 2), kind, peers, extra))
        t += rng.uniform(2.0, 5.0)
    return out


def describe_fault(f, n):
    start, end, kind, peers, extra = f
    who = ",".join(f"peer{p}" for p in peers)
    if kind == "partition":
        rest = ",".join(f"peer{p}" for p in range(1, n + 1) if p not in peers)
        who = f"{{{who}}} | {{{rest}}}"
    more = " ".join(f"{k}={v}" for k, v in extra.items() if v)
    return f"{start:6.1f}-{end:5.1f}s {kind:9} {who} {more}".rstrip()


class Suite:
    def __init__(self, args, log):
        self.args = args
        self.log = log
        self.seed = args.seed
        self.book = Book()
        self.t0 = time.monotonic()
        self.t0_wall = time.time()
        self.report = {"seed": self.seed, "peers": args.peers, "rounds": []}
        self.failures = []

    def clock(self):
        return time.monotonic()

    def say(self, msg):
        self.log(f"[{time.monotonic() - self.t0:6.1f}s] {msg}")

    def apply(self, c, f, begin):
        _, _, kind, peers, extra = f
        i = peers[0]
        if kind == "cut":
            c.cut(i) if begin else c.uncut(i)
        elif kind == "partition":
            c.partition(set(peers)) if begin else c.heal_partition()
        elif kind == "degrade":
            if begin:
                return c.degrade(i, **extra)
            c.restore(i)
        elif kind == "kill":
            if begin:
                c.kill9(i)
            else:
                c.restart(i)
        elif kind == "disk":
            if begin:
                return f"{c.fill_disk(i) // 1024} KiB written"
            c.free_disk(i)
        elif kind == "skew":
            if begin:
                c.skew_clock(i, extra["seconds"])
            else:
                c.peers[i].skew = 0
                c.restart(i)
        return None

    def pinsets(self, c):
        """{peer: {cid: pin}} of every running peer, or {peer: error string}."""
        out = {}

        def one(i):
            try:
                status, data = c.api(i, "GET", "/allocations", timeout=10)
                if status == 204:
                    out[i] = {}
                elif status == 200:
                    out[i] = {p["cid"]: p for p in ndjson(data)}
                else:
                    out[i] = f"GET /allocations: {status} {data[:200]!r}"
            except Exception as e:  # noqa: BLE001
                out[i] = f"GET /allocations: {type(e).__name__}: {e}"

        ts = [threading.Thread(target=one, args=(i,)) for i, p in c.peers.items() if p.alive]
        for t in ts:
            t.start()
        for t in ts:
            t.join(15)
        return out

    def problems(self, c, sets):
        """What is wrong with one look at the pinsets (empty: converged)."""
        with self.book.lock:
            present, absent = self.book.expected_present(), self.book.expected_absent()
            known = set(self.book.pins)
        out = []
        for i, p in c.peers.items():
            if not p.alive:
                out.append(f"peer{i} is not running")
        good = {i: s for i, s in sets.items() if not isinstance(s, str)}
        for i, s in sorted(sets.items()):
            if isinstance(s, str):
                out.append(f"peer{i}: {s}")

        def on(cid, holders):
            return ",".join(f"peer{h}" for h in holders) if len(holders) < len(good) else "every peer"

        def rec(cid):
            for s in good.values():
                if cid in s:
                    p = s[cid]
                    return f"its record now: timestamp {p.get('timestamp')}, allocations {[self.peer_name(c, a) for a in p.get('allocations') or []]}"
            return ""

        for cid in sorted(present):
            lacking = sorted(i for i, s in good.items() if cid not in s)
            if lacking:
                out.append(f"LOST acknowledged pin {cid}: missing on {on(cid, lacking)}; {self.book.pins[cid].describe(self.t0)}")
        for cid in sorted(absent):
            holding = sorted(i for i, s in good.items() if cid in s)
            if holding:
                out.append(f"LOST acknowledged unpin {cid}: still pinned on {on(cid, holding)}; {self.book.unpins[cid].describe(self.t0)}, "
                           f"after the {self.book.pins[cid].describe(self.t0)}; {rec(cid)}")
        for i, s in sorted(good.items()):
            for cid in sorted(set(s) - known):
                out.append(f"peer{i} has {cid}, which no writer pinned")
        good = {i: set(s) for i, s in good.items()}
        if len(good) > 1:
            union = set().union(*good.values())
            for cid in sorted(union - present - absent):
                holders = sorted(i for i, s in good.items() if cid in s)
                if len(holders) != len(good):
                    w = self.book.pins.get(cid)
                    u = self.book.unpins.get(cid)
                    hist = (w.describe(self.t0) if w else "?") + (f"; then {u.describe(self.t0)}" if u else "")
                    out.append(f"peers disagree on {cid}: on {','.join(f'peer{h}' for h in holders)} only ({hist})")
        return out

    @staticmethod
    def peer_name(c, pid):
        return next((f"peer{i}" for i, p in c.peers.items() if p.peer_id == pid), pid)

    @staticmethod
    def record(pin):
        return (tuple(sorted(pin.get("allocations") or [])), pin.get("replication_factor_min"), pin.get("replication_factor_max"), pin.get("name"))

    def disagreements(self, sets):
        good = {i: s for i, s in sets.items() if not isinstance(s, str)}
        out = []
        if not good:
            return ["no peer answered"]
        first = min(good)
        for cid, pin in sorted(good[first].items()):
            for i, s in good.items():
                if i != first and cid in s and self.record(s[cid]) != self.record(pin):
                    out.append(f"{cid}: peer{first} {self.record(pin)} but peer{i} {self.record(s[cid])}")
        return out

    def converge(self, c, rnd):
        """Polls until the pinsets are right; returns (seconds, problems at the deadline)."""
        start = time.monotonic()
        deadline = start + CONVERGE_TIMEOUT
        last = []
        while True:
            sets = self.pinsets(c)
            last = self.problems(c, sets)
            if not last:
                took = time.monotonic() - start
                break
            if time.monotonic() > deadline:
                return None, None, last, sets
            time.sleep(POLL)
        # The same pin records (allocations, replication) everywhere, bounded too.
        agree_deadline = time.monotonic() + AGREE_TIMEOUT
        while True:
            d = self.disagreements(sets)
            if not d and not self.problems(c, sets):
                return took, time.monotonic() - start, [], sets
            if time.monotonic() > agree_deadline:
                return took, None, [f"peers hold the same CIDs but not the same pin records: {x}" for x in d[:20]], sets
            time.sleep(POLL)
            sets = self.pinsets(c)

    def refused_but_applied(self, sets):
        """Writes answered 4xx or 503 (refused) whose effect is in the converged pinset."""
        cids = next((set(s) for s in sets.values() if not isinstance(s, str)), set())
        out = []
        with self.book.lock:
            for cid, w in self.book.pins.items():
                if w.status is not None and (400 <= w.status < 500 or w.status == 503) and cid in cids and cid not in self.book.unpins:
                    out.append(w.describe(self.t0) + f" {cid}")
            for cid, w in self.book.unpins.items():
                if w is not None and w.status is not None and (400 <= w.status < 500 or w.status == 503) and cid not in cids \
                        and self.book.pins[cid].acked:
                    out.append(w.describe(self.t0) + f" {cid}")
        return out

    def statuses(self, c, sets):
        """The acknowledged adds still pinned (their content exists): every allocated peer
        reports pinned or an error, bounded. Returns (counts, problems)."""
        with self.book.lock:
            adds = sorted(self.book.adds & self.book.expected_present())
        any_set = next((s for s in sets.values() if not isinstance(s, str)), {})
        names = {p.peer_id: f"peer{i}" for i, p in c.peers.items()}
        deadline = time.monotonic() + STATUS_TIMEOUT
        pending = set(adds)
        final = {}
        while pending:
            for cid in sorted(pending):
                try:
                    status, data = c.api(1, "GET", f"/pins/{cid}", timeout=10)
                except Exception as e:  # noqa: BLE001
                    final[cid] = {"?": f"GET /pins: {e}"}
                    continue
                if status != 200:
                    final[cid] = {"?": f"GET /pins: {status}"}
                    continue
                info = json.loads(data)
                allocs = set(any_set.get(cid, {}).get("allocations") or []) or set(info.get("peer_map", {}))
                st = {names.get(pid, pid[:12]): v.get("status") for pid, v in info.get("peer_map", {}).items() if pid in allocs}
                final[cid] = st
                if st and all(s == "pinned" or s.endswith("error") for s in st.values()):
                    pending.discard(cid)
            if not pending or time.monotonic() > deadline:
                break
            time.sleep(1.0)
        counts = collections.Counter(s for st in final.values() for s in st.values())
        probs = [f"add {cid} after {STATUS_TIMEOUT} s: {final.get(cid)} ({self.book.pins[cid].describe(self.t0)})" for cid in sorted(pending)]
        for cid, st in final.items():
            if cid not in pending and not any(s == "pinned" for s in st.values()):
                probs.append(f"add {cid}: pinned on no allocated peer although its blocks were stored before the pin: {st}")
        return dict(counts), probs

    def run(self):
        a = self.args
        disk_peer = a.peers if a.disk else None
        bin_dir = a.bin
        rounds = max(1, round(a.seconds / a.round_seconds)) if not a.minutes else None
        keep = os.path.join(tempfile.gettempdir(), f"pinmesh-chaos-logs-{self.seed}-{os.getpid()}")
        with Cluster(a.peers, bin_dir=bin_dir, log=self.say, disk_peers={disk_peer} if disk_peer else (), disk_mb=a.disk_mb,
                     config=dict(CHAOS_CONFIG, **({} if a.repinning else NO_REPINNING)), keep_logs_on_failure=keep) as c:
            self.report["tc"] = c.features
            self.say(f"times are seconds since {time.strftime('%H:%M:%S', time.gmtime(self.t0_wall))}.{int(self.t0_wall % 1 * 10)} UTC (the peers' logs are in UTC)")
            if a.skew and not c.faketime:
                raise Skip("--skew needs libfaketime (apt-get install libfaketime)")
            c.init_peers()
            t = time.monotonic()
            c.start_all()
            self.say(f"{a.peers} daemons ready in {time.monotonic() - t:.1f} s")
            work = os.path.join(c.root, "writes")
            os.makedirs(work)
            sched_rng = random.Random(f"{self.seed}/faults")
            rnd = 0
            soak_end = time.monotonic() + a.minutes * 60 if a.minutes else None
            while True:
                rnd += 1
                if rounds is not None and rnd > rounds:
                    break
                if soak_end is not None and time.monotonic() > soak_end:
                    break
                if not self.round(c, rnd, sched_rng, disk_peer, work):
                    break
        return not self.failures

    def round(self, c, rnd, sched_rng, disk_peer, work):
        a = self.args
        sched = make_schedule(sched_rng, a.peers, a.round_seconds, disk_peer, a.skew)
        self.say(f"round {rnd}: {a.round_seconds:.0f} s of faults, {a.writers} writers:")
        for f in sched:
            self.log(f"    {describe_fault(f, a.peers)}")
        writers = [Writer(k, f"{self.seed}/{rnd}", c, self.book, c.bin, work, self.clock) for k in range(1, a.writers + 1)]
        for w in writers:
            w.round = rnd
            w.start()
        begin = time.monotonic()
        events = sorted([(f[0], 1, f, True) for f in sched] + [(f[1], 0, f, False) for f in sched], key=lambda e: (e[0], e[1]))
        applied = []
        for at, _, f, start in events:
            delay = begin + at - time.monotonic()
            if delay > 0:
                time.sleep(delay)  # the schedule's own time, not a wait for an event
            try:
                note = self.apply(c, f, start)
            except HarnessError as e:
                self.failures.append(f"round {rnd}: {f[2]} {'start' if start else 'end'} on {f[3]}: {e}")
                c.failed = True
                self.say(f"FAILED to {'apply' if start else 'heal'} {f[2]}: {e}")
                note = None
            if not start:
                self.verbose(f"healed {f[2]} {f[3]}")
            if start:
                applied.append({"at": round(time.monotonic() - begin, 2), "kind": f[2], "peers": list(f[3]), **f[4], **({"note": note} if note else {})})
                self.verbose(f"{f[2]} {f[3]} {note or ''}")
        rest = begin + a.round_seconds - time.monotonic()
        if rest > 0:
            time.sleep(rest)
        for w in writers:
            w.stop.set()
        for w in writers:
            w.join(REQUEST_TIMEOUT + 10)
            if w.crash:
                self.failures.append(f"round {rnd}: writer {w.k} crashed: {w.crash!r}")
        t = time.monotonic()
        try:
            restarted = c.heal_all()
        except HarnessError as e:
            self.failures.append(f"round {rnd}: the final heal failed: {e}")
            c.failed = True
            self.say(f"FAILED to heal: {e}")
            return False
        heal_s = time.monotonic() - t
        self.say(f"round {rnd}: healed everything in {heal_s:.1f} s" + (f" (restarted {', '.join(f'peer{i}' for i in restarted)})" if restarted else ""))
        took, agree, problems, sets = self.converge(c, rnd)
        n = self.book.counts(rnd)
        entry = {"round": rnd, "faults": applied, "writes": dict(n), "heal_s": round(heal_s, 2)}
        if problems:
            lost = [p for p in problems if p.startswith("LOST")]
            entry.update({"converge_s": round(took, 2) if took else None, "lost": len(lost), "problems": problems[:200]})
            self.report["rounds"].append(entry)
            agreed = all(p.startswith("LOST") and "on every peer" in p for p in problems)
            self.failures.append(f"round {rnd}: " + (f"the peers agree, but {len(lost)} acknowledged writes are lost" if agreed else
                                                     f"not converged within the bounds ({len(problems)} problems, {len(lost)} acknowledged writes lost)"))
            self.say(f"round {rnd}: FAILED - after {CONVERGE_TIMEOUT if took is None else AGREE_TIMEOUT} s:")
            for p in problems[:60]:
                self.log(f"    {p}")
            if len(problems) > 60:
                self.log(f"    … and {len(problems) - 60} more")
            if any(p.startswith("LOST acknowledged unpin") for p in problems):
                self.explain_repins(c)
            self.dump_logs(c)
            c.failed = True
            return False
        sizes = {i: len(s) for i, s in sets.items()}
        refused_applied = self.refused_but_applied(sets)
        if refused_applied:
            # Reported, not failed: the check is that the peers agree on what an unacknowledged
            # write did; the REST API's "a refused request changes nothing" is shown here.
            self.say(f"round {rnd}: {len(refused_applied)} writes refused (4xx/503) took effect anyway:")
            for x in refused_applied[:10]:
                self.log(f"    {x}")
        counts, status_problems = self.statuses(c, sets)
        entry.update({"converge_s": round(took, 3), "agree_s": round(agree, 3), "lost": 0, "pinset": sizes, "add_statuses": counts,
                      "refused_but_applied": len(refused_applied)})
        self.report["rounds"].append(entry)
        self.say(f"round {rnd}: converged {took:.2f} s after the heal (pin records equal at {agree:.2f} s); "
                 f"{summary(n)}; pinsets {sizes}; adds' statuses {counts}")
        if status_problems:
            self.failures.append(f"round {rnd}: {len(status_problems)} adds did not reach pinned or an error")
            entry["status_problems"] = status_problems
            for p in status_problems[:40]:
                self.log(f"    {p}")
            self.dump_logs(c)
            c.failed = True
            return False
        return True

    def explain_repins(self, c):
        """The peers' re-allocations of dead peers' pins, to read beside a lost unpin (a
        re-allocation must never undo one: Specs/pinset-crdt.md, "Re-allocation")."""
        names = {p.peer_id: f"peer{i}" for i, p in c.peers.items()}
        lines = []
        for i, p in c.peers.items():
            for line in tail(p.log, 100000).splitlines():
                if "re-allocated a dead peer's pins" in line:
                    dead = next((names[k] for k in names if k and f"dead={k}" in line), "?")
                    pins = line.split("pins=")[1].split()[0] if "pins=" in line else "?"
                    lines.append(f"{line[:19]}Z peer{i} re-allocated {pins} pins of {dead}, which it saw as dead")
        if lines:
            self.log("    re-allocations in this run (none may undo an unpin: Specs/pinset-crdt.md, \"Re-allocation\"):")
            for x in sorted(lines):
                self.log(f"      {x}")

    def verbose(self, msg):
        if self.args.verbose:
            self.say(msg)

    def dump_logs(self, c):
        for i, p in c.peers.items():
            self.log(f"---- peer{i} ({p.peer_id}) log, last lines:")
            # Without the expected failures of pins of content nobody has.
            lines = [x for x in tail(p.log, 400).splitlines() if "made no progress" not in x]
            self.log("\n".join(lines[-25:]))


def ensure_binaries(bin_dir, explicit, log):
    need = [os.path.join(bin_dir, b) for b in ("pinmesh", "pinmeshctl")]
    if all(os.access(p, os.X_OK) for p in need):
        return None
    if explicit:
        return f"PINMESH_BIN={bin_dir} has no pinmesh and pinmeshctl"
    swift = "swift" if subprocess.run(["sh", "-c", "command -v swift"], capture_output=True).returncode == 0 else "/opt/swift/usr/bin/swift"
    log(f"chaos: {bin_dir}/pinmesh is missing: swift build --build-tests (waits for a build already running)")
    p = subprocess.run([swift, "build", "--build-tests"], cwd=REPO)
    if p.returncode != 0 or not all(os.access(x, os.X_OK) for x in need):
        return "the debug build failed"
    return None


def main(argv=None):
    ap = argparse.ArgumentParser(prog=".ci/chaos", description="PinMesh's chaos suite in network namespaces (Specs/chaos-harness.md).")
    ap.add_argument("--seed", type=int, help="replay this seed's schedule (default: a new one, printed first)")
    ap.add_argument("--seconds", type=float, default=60, help="seconds of faults, in rounds (default 60: two rounds)")
    ap.add_argument("--round-seconds", type=float, default=30, help="seconds of faults per round before the heal (default 30)")
    ap.add_argument("--minutes", type=float, help="soak: rounds until this many minutes have passed (instead of --seconds)")
    ap.add_argument("--peers", type=int, default=5)
    ap.add_argument("--writers", type=int, default=2)
    ap.add_argument("--no-disk", dest="disk", action="store_false", help="no tmpfs peer and no disk-full faults")
    ap.add_argument("--disk-mb", type=int, default=96, help="size of the last peer's tmpfs (default 96)")
    ap.add_argument("--skew", action="store_true", help="also skew clocks (needs libfaketime; changes the schedule)")
    ap.add_argument("--json", action="store_true", help="print a JSON report at the end (writes acknowledged, lost, converge times)")
    ap.add_argument("--verbose", "-v", action="store_true")
    ap.add_argument("--no-repinning", dest="repinning", action="store_false",
                    help="peers never move a dead peer's pins (to tell repinning's part in a failure from the rest)")
    args = ap.parse_args(argv)
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1, 1 << 31)
    if args.peers < 2:
        ap.error("--peers: at least 2")
    out = sys.stderr if args.json else sys.stdout

    def log(msg):
        print(msg, file=out, flush=True)

    replay = f".ci/chaos --seed {args.seed} " + (f"--minutes {args.minutes:g}" if args.minutes else f"--seconds {args.seconds:g}") \
        + ("" if args.round_seconds == 30 else f" --round-seconds {args.round_seconds:g}") + ("" if args.peers == 5 else f" --peers {args.peers}") \
        + ("" if args.writers == 2 else f" --writers {args.writers}") + ("" if args.disk else " --no-disk") + (" --skew" if args.skew else "")
    if not args.repinning:
        replay += " --no-repinning"
    log(f"chaos: seed {args.seed} (replay: {replay})")
    if not args.repinning:
        log("chaos: repinning off in this run (cluster.disable_repinning: true on every peer)")
    why = netns.available()
    if why:
        log(f"skipped: {why}")
        if args.json:
            print(json.dumps({"seed": args.seed, "skipped": why}))
        return 0
    explicit = "PINMESH_BIN" in os.environ
    args.bin = os.path.abspath(os.environ.get("PINMESH_BIN") or os.path.join(REPO, ".build/debug"))
    why = ensure_binaries(args.bin, explicit, log)
    if why:
        log(f"chaos: FAILED: {why}")
        return 1
    # A hard bound on the whole run, so that CI never hangs on it.
    budget = (args.minutes * 60 if args.minutes else args.seconds) + 120 + (CONVERGE_TIMEOUT + AGREE_TIMEOUT + STATUS_TIMEOUT + 60) * 2

    def alarm(_s, _f):
        raise TimeoutError(f"the run passed its bound of {budget:.0f} s")

    signal.signal(signal.SIGALRM, alarm)
    signal.alarm(int(budget))
    suite = Suite(args, log)
    started = time.monotonic()
    try:
        ok = suite.run()
    except Skip as e:
        log(f"skipped: {e}")
        return 0
    except (HarnessError, TimeoutError, OSError) as e:
        suite.failures.append(f"{type(e).__name__}: {e}")
        log(f"chaos: FAILED: {type(e).__name__}: {e}")
        ok = False
    except KeyboardInterrupt:
        log("chaos: interrupted; everything cleaned up")
        return 130
    finally:
        signal.alarm(0)
    took = time.monotonic() - started
    n = suite.book.counts()
    lost = sum(r.get("lost", 0) for r in suite.report["rounds"])
    conv = [r.get("converge_s") for r in suite.report["rounds"]]
    suite.report.update({"ok": ok, "seconds": round(took, 1), "writes": dict(n),
                         "writes_acknowledged": n["pin acknowledged"] + n["add acknowledged"] + n["unpin acknowledged"],
                         "lost": lost, "converge_s": conv, "failures": suite.failures})
    if args.json:
        print(json.dumps(suite.report, indent=2))
    log(f"chaos: seed {args.seed}: {'ok' if ok else 'FAILED'} in {took:.0f} s; {len(suite.report['rounds'])} rounds; "
        f"{summary(n)}; lost {lost}; converged after each heal in {conv} s")
    if not ok:
        for f in suite.failures:
            log(f"chaos: {f}")
        log(f"chaos: replay with {replay}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
