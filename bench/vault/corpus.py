#!/usr/bin/env python3
"""Builds and changes the benchmark corpus for bench/vault/run.sh.

`corpus.py make DIR GIB` writes a source-tree-like mix: many small text files
(compressible), large random binaries (incompressible), large semi-
compressible files (logs, dumps) and duplicated data (copies of binaries and
of part of the tree). `corpus.py change DIR PERCENT` rewrites about that share
of the bytes: regions inside large files, some small files, a few new files.
Deterministic (fixed seeds), so two runs see the same data.
"""
import os
import random
import sys

WORDS = (b"fn let mut struct impl pub use mod match self return if else for in while "
         b"loop break continue async await const static enum trait where type unsafe "
         b"crate super move ref dyn Box Vec String Option Some None Result Ok Err").split()


def text(rng, size):
    out = bytearray()
    while len(out) < size:
        line = b" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12)))
        out += b"    " * rng.randint(0, 3) + line + b";\n"
    return bytes(out[:size])


def semi(rng, size):
    # Log-like: timestamps and ids (random digits) in repeated templates.
    out = bytearray()
    while len(out) < size:
        out += b"2026-11-29T%02d:%02d:%02d.%06dZ INFO request id=%016x user=%d status=%d bytes=%d\n" % (
            rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59), rng.randint(0, 999999),
            rng.getrandbits(64), rng.randint(1, 5000), rng.choice([200, 200, 200, 404, 500]),
            rng.randint(0, 1 << 20))
    return bytes(out[:size])


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def make(root, gib):
    rng = random.Random(1)
    total = int(gib * (1 << 30))
    # Shares of the total: 15% small source files, 55% random binaries,
    # 15% logs, 15% duplicates.
    src_bytes = int(total * 0.15)
    n = 0
    done = 0
    while done < src_bytes:
        size = int(rng.lognormvariate(8.5, 1.2)) + 1
        size = min(size, 512 << 10)
        d = "src/mod%03d/sub%02d" % (n // 400, (n // 20) % 20)
        write(os.path.join(root, d, "file%05d.rs" % n), text(rng, size))
        done += size
        n += 1
    bin_bytes = int(total * 0.55)
    big = 256 << 20
    i = 0
    while bin_bytes > 0:
        size = min(big, bin_bytes)
        path = os.path.join(root, "bin/blob%02d.bin" % i)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            left = size
            while left > 0:
                step = min(left, 16 << 20)
                f.write(rng.randbytes(step))
                left -= step
        bin_bytes -= size
        i += 1
    log_bytes = int(total * 0.15)
    j = 0
    while log_bytes > 0:
        size = min(128 << 20, log_bytes)
        write(os.path.join(root, "logs/app%02d.log" % j), semi(rng, size))
        log_bytes -= size
        j += 1
    # Duplicates: copies of the first binaries and of the first source modules.
    dup_bytes = int(total * 0.15)
    k = 0
    while dup_bytes > 0 and k < i:
        srcp = os.path.join(root, "bin/blob%02d.bin" % k)
        size = min(os.path.getsize(srcp), dup_bytes)
        with open(srcp, "rb") as f:
            write(os.path.join(root, "backup-copy/blob%02d.bin" % k), f.read(size))
        dup_bytes -= size
        k += 1
    print("corpus: %d source files, %d binaries, %d logs" % (n, i, j))


def change(root, percent):
    rng = random.Random(2)
    files = []
    for d, _, names in os.walk(root):
        for name in names:
            p = os.path.join(d, name)
            files.append((p, os.path.getsize(p)))
    files.sort()
    total = sum(s for _, s in files)
    budget = int(total * percent / 100)
    changed = 0
    # Rewrite 1 MiB regions inside large files.
    large = [f for f in files if f[1] > (8 << 20)]
    while changed < budget * 0.8 and large:
        p, size = rng.choice(large)
        off = rng.randrange(0, size - (1 << 20))
        with open(p, "r+b") as f:
            f.seek(off)
            f.write(rng.randbytes(1 << 20))
        changed += 1 << 20
    small = [f for f in files if f[1] <= (8 << 20)]
    while changed < budget * 0.95 and small:
        p, size = rng.choice(small)
        with open(p, "ab") as f:
            f.write(text(rng, 4096))
        changed += size
    n = 0
    while changed < budget:
        size = 64 << 10
        write(os.path.join(root, "src/new/new%05d.rs" % n), text(rng, size))
        changed += size
        n += 1
    print("changed about %d MiB of %d MiB" % (changed >> 20, total >> 20))


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2], float(sys.argv[3]))
    elif sys.argv[1] == "change":
        change(sys.argv[2], float(sys.argv[3]))
    else:
        sys.exit("usage: corpus.py make DIR GIB | change DIR PERCENT")
