#!/usr/bin/env python3
"""Writes Specs/vectors/buzhash-cuts.json: where kubo's buzhash splitter cuts the generated
files of Specs/vectors/unixfs-derived.json. Written from boxo's chunker/buzhash.go (kubo
0.40's boxo v0.37.0), whose byte table it reads from that file:
  python3 Tests/Compat/make_buzhash_vectors.py path/to/boxo/chunker/buzhash.go
(`git -C <boxo> show v0.37.0:chunker/buzhash.go > /tmp/buzhash.go` gives it). A transliteration
of NextBytes: chunks of 128 KiB to 512 KiB, the remainder last, never an empty chunk."""
import json, os, re, sys

MIN, MAX, MASK = 128 << 10, 512 << 10, (1 << 17) - 1

def table(go_source):
    body = go_source.split("var bytehash = [256]uint32{", 1)[1].split("}", 1)[0]
    values = [int(v, 16) for v in re.findall(r"0x[0-9a-fA-F]+", body)]
    assert len(values) == 256, len(values)
    return values

def rotl(x, n):
    return ((x << n) | (x >> (32 - n))) & 0xFFFFFFFF

def cuts(data, h):
    out, pos = [], 0
    while True:
        buf = data[pos:pos + MAX]
        if len(buf) < MIN:
            if buf:
                out.append(len(buf))
            return out
        state = 0
        for i in range(MIN - 32, MIN):
            state = rotl(state, 1) ^ h[buf[i]]
        i, last = MIN - 32, len(buf) - 32 - 1
        while i <= last:
            if state & MASK == 0:
                break
            state = rotl(state, 1) ^ h[buf[i]] ^ h[buf[i + 32]]
            i += 1
        n = i + 32
        out.append(n)
        pos += n

def lin(n):
    return bytes((i * 31 + 7) % 251 for i in range(n))

def rnd(n):
    x, out = 1, bytearray()
    for _ in range(n):
        x ^= x >> 12; x ^= (x << 25) & 0xFFFFFFFFFFFFFFFF; x ^= x >> 27
        out.append(((x * 0x2545F4914F6CDD1D) & 0xFFFFFFFFFFFFFFFF) >> 56)
    return bytes(out)

h = table(open(sys.argv[1]).read())
files = {"rnd-100000": rnd(100000), "rnd-524288": rnd(524288), "rnd-2000000": rnd(2000000),
         "rnd-3000000": rnd(3000000), "lin-3000000": lin(3000000)}
cases = [{"data": name, "cuts": cuts(data, h)} for name, data in files.items()]
for c in cases:
    assert sum(c["cuts"]) == len(files[c["data"]]) and all(n > 0 for n in c["cuts"])
out = os.path.join(os.path.dirname(__file__), "..", "..", "Specs", "vectors", "buzhash-cuts.json")
with open(out, "w") as fh:
    json.dump({"source": "Tests/Compat/make_buzhash_vectors.py over boxo v0.37.0 chunker/buzhash.go", "cases": cases}, fh, indent=1)
    fh.write("\n")
for c in cases:
    print(c["data"], len(c["cuts"]), c["cuts"][-3:])
