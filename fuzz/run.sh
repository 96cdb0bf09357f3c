#!/usr/bin/env bash
# `make fuzz`: builds the fuzz targets with AFL++ instrumentation (cargo afl, stable toolchain),
# writes the seed corpus, fuzzes every target at once for FUZZ_SECONDS (default 60), prints executions
# and coverage per target, and fails if any target found a crash or a hang.
#   FUZZ_SECONDS=5 fuzz/run.sh            # the CI smoke run
#   FUZZ_TARGETS="manifest protocol" ...   # a subset
# Findings stay in fuzz/target/findings/<target>/default/{crashes,hangs}: each becomes a regression
# test (crates' tests) and is fixed.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${FUZZ_SECONDS:-60}
targets=${FUZZ_TARGETS:-"manifest jsonl_input protocol isolate_wire interpreter_values"}
if ! cargo afl --version >/dev/null 2>&1; then
    echo "fuzz: cargo-afl is missing: cargo install cargo-afl --locked" >&2
    exit 1
fi
# The machine's core-dump handler and CPU governor are not ours to change; AFL++ is told so.
export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 AFL_NO_AFFINITY=1
# cargo afl turns debug assertions on everywhere; RustPython's parser (pinned for rustc 1.95, see
# .cargo/config.toml) has one that needs a newer compiler, so they are off (RUSTFLAGS come last).
# The targets' own checks are assert!, which stays on; so do overflow checks.
export RUSTFLAGS="${RUSTFLAGS:-} -C debug-assertions=off"
features=()
case " $targets " in *" interpreter_values "*) features=(--features interpreter) ;; esac
# Not --locked: fuzz/Cargo.lock keeps its pins, and cargo only adds what a crate of the project
# started to depend on since (the project's own build is the --locked one).
cargo afl build --release --ignore-rust-version --bins "${features[@]}"
rm -rf target/seeds target/findings
mkdir -p target/findings
target/release/seeds target/seeds
# The targets fuzz side by side (one afl-fuzz each), so FUZZ_SECONDS is also the wall time.
pids=()
for target in $targets; do
    out=target/findings/$target
    cargo afl fuzz -V "$seconds" -i "target/seeds/$target" -o "$out" "target/release/$target" >"$out.log" 2>&1 &
    pids+=($!)
done
# Every afl-fuzz is waited for (each ends by itself after FUZZ_SECONDS), then failures are told.
broken=()
set -- $targets
for pid in "${pids[@]}"; do
    wait "$pid" || broken+=("$1")
    shift
done
for target in "${broken[@]}"; do
    echo "fuzz: afl-fuzz failed on $target (log: fuzz/target/findings/$target.log):" >&2
    tail -20 "target/findings/$target.log" >&2
done
[ ${#broken[@]} -eq 0 ] || exit 1
failed=0
total=0
printf '%-20s %12s %10s %10s %8s %8s\n' target executions execs/s coverage crashes hangs
for target in $targets; do
    out=target/findings/$target
    stats=$out/default/fuzzer_stats
    value() { sed -n "s/^$1 *: *//p" "$stats"; }
    crashes=$(find "$out/default/crashes" -name 'id:*' | wc -l)
    hangs=$(find "$out/default/hangs" -name 'id:*' | wc -l)
    total=$((total + $(value execs_done)))
    printf '%-20s %12s %10s %10s %8s %8s\n' "$target" "$(value execs_done)" "$(value execs_per_sec)" \
        "$(value bitmap_cvg)" "$crashes" "$hangs"
    if [ "$crashes" -gt 0 ] || [ "$hangs" -gt 0 ]; then
        failed=1
        echo "fuzz: $target found $crashes crash(es), $hangs hang(s) in fuzz/$out/default" >&2
    fi
done
printf '%-20s %12s\n' total "$total"
exit $failed
