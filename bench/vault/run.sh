#!/usr/bin/env bash
# Benchmark: Halley's vault engine against restic on the same corpus, in the
# same run. Prints initial backup, second backup after changing 5%, full
# restore (throughput), repository size and peak memory, side by side, with
# Halley/restic ratios (throughput: higher is better; size and memory: lower
# is better).
#
# usage: bench/vault/run.sh [GIB] [WORKDIR]     (defaults: 2, /tmp/halley-vault-bench)
# needs: restic and GNU time (`crates/halley-vault/tests/setup.sh` installs
# them), python3, a release build (made here).
set -euo pipefail
GIB="${1:-2}"
WORK="${2:-/tmp/halley-vault-bench}"
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
TIME=/usr/bin/time
command -v restic >/dev/null || { echo "restic is missing: run crates/halley-vault/tests/setup.sh" >&2; exit 1; }
[ -x "$TIME" ] || { echo "GNU time is missing: run crates/halley-vault/tests/setup.sh" >&2; exit 1; }

(cd "$ROOT" && cargo build --release -q -p halley-vault --bin halley-vault)
HV="$ROOT/target/release/halley-vault"

rm -rf "$WORK"
mkdir -p "$WORK"
CORPUS="$WORK/corpus"
echo "== building a ${GIB} GiB corpus in $CORPUS"
python3 "$HERE/corpus.py" make "$CORPUS" "$GIB"
sync
CORPUS_BYTES=$(du -sb "$CORPUS" | cut -f1)

export RESTIC_PASSWORD=bench-password HALLEY_VAULT_PASSWORD=bench-password
RESTIC_REPO="$WORK/restic-repo"
HALLEY_REPO="$WORK/halley-repo"
declare -A SECS MEM CPU

# run NAME CMD...: times CMD, keeps wall seconds, peak RSS (KiB) and CPU
# seconds (user + system: steadier than wall time on a busy machine).
run() {
    local name="$1"
    shift
    local log="$WORK/$name.time"
    "$TIME" -f "%e %M %U %S" -o "$log" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" || {
        echo "$name failed:" >&2
        tail -20 "$WORK/$name.err" >&2
        exit 1
    }
    read -r s m u k <"$log"
    SECS[$name]=$s
    MEM[$name]=$m
    CPU[$name]=$(python3 -c "print($u + $k)")
    echo "   $name: ${s}s, peak ${m} KiB, CPU ${CPU[$name]}s"
}

echo "== init"
restic init --repo "$RESTIC_REPO" --repository-version 2 -q
"$HV" --repo "$HALLEY_REPO" init >/dev/null

echo "== initial backup"
run restic-backup1 restic backup --repo "$RESTIC_REPO" -q "$CORPUS"
run halley-backup1 "$HV" --repo "$HALLEY_REPO" backup "$CORPUS"

echo "== changing 5% of the corpus"
python3 "$HERE/corpus.py" change "$CORPUS" 5
sync
CORPUS2_BYTES=$(du -sb "$CORPUS" | cut -f1)

echo "== second backup"
run restic-backup2 restic backup --repo "$RESTIC_REPO" -q "$CORPUS"
run halley-backup2 "$HV" --repo "$HALLEY_REPO" backup "$CORPUS"

echo "== full restore"
rm -rf "$WORK/restic-out" "$WORK/halley-out"
run restic-restore restic restore --repo "$RESTIC_REPO" latest --target "$WORK/restic-out"
run halley-restore "$HV" --repo "$HALLEY_REPO" restore latest --target "$WORK/halley-out"
echo "== checking both restores against the corpus"
diff -r "$CORPUS" "$WORK/halley-out$CORPUS" >/dev/null && echo "   halley: identical"
diff -r "$CORPUS" "$WORK/restic-out$CORPUS" >/dev/null && echo "   restic: identical"
rm -rf "$WORK/restic-out" "$WORK/halley-out"

RS=$(du -sb "$RESTIC_REPO" | cut -f1)
HS=$(du -sb "$HALLEY_REPO" | cut -f1)

python3 - "$CORPUS_BYTES" "$CORPUS2_BYTES" "$RS" "$HS" \
    "${SECS[restic-backup1]}" "${SECS[halley-backup1]}" \
    "${SECS[restic-backup2]}" "${SECS[halley-backup2]}" \
    "${SECS[restic-restore]}" "${SECS[halley-restore]}" \
    "${MEM[restic-backup1]}" "${MEM[halley-backup1]}" \
    "${MEM[restic-backup2]}" "${MEM[halley-backup2]}" \
    "${MEM[restic-restore]}" "${MEM[halley-restore]}" \
    "${CPU[restic-backup1]}" "${CPU[halley-backup1]}" \
    "${CPU[restic-backup2]}" "${CPU[halley-backup2]}" \
    "${CPU[restic-restore]}" "${CPU[halley-restore]}" <<'PY'
import sys
a = sys.argv[1:]
c1, c2, rs, hs = (int(x) for x in a[:4])
t = [float(x) for x in a[4:10]]
m = [int(x) for x in a[10:16]]
cpu = [float(x) for x in a[16:22]]
mib = 1 << 20
def row(name, r, h, unit, better):
    ratio = (h / r if better == "higher" else r / h) if r and h else float("nan")
    print(f"{name:<28} {r:>12.1f} {h:>12.1f}  {unit:<6} {ratio:>6.2f}x  ({better} is better)")
print()
print(f"corpus {c1 / mib:.0f} MiB, after the change {c2 / mib:.0f} MiB")
print(f"{'':<28} {'restic':>12} {'halley':>12}  {'':<6} {'halley vs restic':>8}")
row("initial backup", c1 / mib / t[0], c1 / mib / t[1], "MiB/s", "higher")
row("second backup (5% changed)", c2 / mib / t[2], c2 / mib / t[3], "MiB/s", "higher")
row("full restore", c2 / mib / t[4], c2 / mib / t[5], "MiB/s", "higher")
row("repository size", rs / mib, hs / mib, "MiB", "lower")
row("peak memory, backup 1", m[0] / 1024, m[1] / 1024, "MiB", "lower")
row("peak memory, backup 2", m[2] / 1024, m[3] / 1024, "MiB", "lower")
row("peak memory, restore", m[4] / 1024, m[5] / 1024, "MiB", "lower")
row("CPU time, backup 1", cpu[0], cpu[1], "s", "lower")
row("CPU time, backup 2", cpu[2], cpu[3], "s", "lower")
row("CPU time, restore", cpu[4], cpu[5], "s", "lower")
print("\nratios are speed-ups for throughput (>1: Halley faster) and savings for size and memory (>1: Halley smaller)")
PY
