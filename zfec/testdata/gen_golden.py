#!/usr/bin/python3
"""Generate golden.json for the lafs zfec package from Tahoe's real zfec.

Run via gen_golden.sh (which installs Debian's python3-zfec if needed).
Writes golden.json next to this file.

Input blocks are derived deterministically (mirrored in golden_test.go):
for a case (k, n, L) let seed = "lafs-zfec-golden:%d:%d:%d" % (k, n, L);
the stream is SHA256(seed + ":" + str(i)) for i = 0, 1, 2, ... concatenated,
and input block c is stream[c*L:(c+1)*L] for c in 0..k-1.

For each case the JSON records:
  input:  SHA-256 (hex) of the k input blocks concatenated (checks the PRNG),
  all:    SHA-256 (hex) of all n output blocks concatenated in order,
  parity: (only for L == PARITY_LEN) for each output block j in k..n-1,
          the first 4 bytes (8 hex digits) of its SHA-256, to localise a
          mismatch.
The "sweep" section holds, for every k in 1..256 with n = 256 and L = 3,
the SHA-256 of the n-k parity blocks concatenated. Because parity row j of
zfec's matrix does not depend on n, this pins down every (k, n) pair.
"""
import hashlib
import json
import os
import sys

import zfec


def stream(seed, size):
    out = bytearray()
    i = 0
    while len(out) < size:
        out += hashlib.sha256(("%s:%d" % (seed, i)).encode()).digest()
        i += 1
    return bytes(out[:size])


def inputs(k, n, L):
    s = stream("lafs-zfec-golden:%d:%d:%d" % (k, n, L), k * L)
    return [s[c * L:(c + 1) * L] for c in range(k)]


def sha(b):
    return hashlib.sha256(b).hexdigest()


PAIRS = [
    (1, 1), (1, 2), (1, 3), (2, 2), (2, 3), (3, 3), (3, 10), (4, 5), (5, 7),
    (7, 8), (10, 20), (16, 40), (25, 100), (71, 255), (100, 101),
    (101, 256), (128, 256), (200, 256), (250, 255), (255, 256),
    (256, 256), (1, 256), (2, 256),
]
LENGTHS = [1, 2, 7, 64, 1021, 4096]
PARITY_LEN = 1021  # per-block digests only for this length, to keep the file small


def main():
    cases = []
    for k, n in PAIRS:
        enc = zfec.Encoder(k, n)
        for L in LENGTHS:
            blocks = inputs(k, n, L)
            out = enc.encode(blocks)
            assert len(out) == n
            for c in range(k):
                assert bytes(out[c]) == blocks[c], (k, n, L, c)
            out = [bytes(b) for b in out]
            case = {
                "k": k, "n": n, "len": L,
                "input": sha(b"".join(blocks)),
                "all": sha(b"".join(out)),
            }
            if L == PARITY_LEN:
                case["parity"] = [sha(b)[:8] for b in out[k:]]
            cases.append(case)
    sweep = []
    for k in range(1, 257):
        enc = zfec.Encoder(k, 256)
        out = [bytes(b) for b in enc.encode(inputs(k, 256, 3))]
        sweep.append(sha(b"".join(out[k:])))
    doc = {
        "generator": "zfec %s (%s)" % (zfec.__version__, "python3-zfec"),
        "cases": cases,
        "sweep": {"n": 256, "len": 3, "parity": sweep},
    }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden.json")
    with open(path, "w") as f:
        # One case per line: compact, yet diffs stay readable.
        f.write('{"generator":%s,\n"cases":[\n' % json.dumps(doc["generator"]))
        f.write(",\n".join(json.dumps(c, separators=(",", ":")) for c in cases))
        f.write('],\n"sweep":%s}\n' % json.dumps(doc["sweep"], separators=(",", ":")))
    print("wrote %s: %d cases, %d sweep entries" % (path, len(cases), len(sweep)), file=sys.stderr)


if __name__ == "__main__":
    main()
