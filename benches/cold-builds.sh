#!/usr/bin/env bash
# Cold build times, as a newcomer meets them: a fresh clone of this checkout's HEAD and an empty
# target folder for each of the README's builds (`cargo build`, which `cargo run` does first;
# `cargo build --release`; `cargo test --no-run`, the build `cargo test` does first). Prints a
# Markdown table of wall-clock minutes and CPU time. Takes hours on 2 cores; crates already in
# ~/.cargo/registry are not downloaded again, so network time is left out.
#
#   bash benches/cold-builds.sh                 # all three
#   bash benches/cold-builds.sh release         # one of: debug, release, test
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
git clone --quiet "$here" "$work/src"
cd "$work/src"
kinds=("$@")
[ ${#kinds[@]} -gt 0 ] || kinds=(debug release test)
echo "| build | wall clock | CPU (user + system) |"
echo "|---|---:|---:|"
for kind in "${kinds[@]}"; do
  case "$kind" in
    debug) args=(build) ;;
    release) args=(build --release) ;;
    test) args=(test --no-run) ;;
    *) echo "unknown build $kind (debug, release, test)" >&2; exit 2 ;;
  esac
  export CARGO_TARGET_DIR="$work/target-$kind"
  start=$(date +%s)
  /usr/bin/time -f '%U %S' -o "$work/time" cargo "${args[@]}" >"$work/$kind.log" 2>&1 \
    || { echo "cargo ${args[*]} failed; see the log:" >&2; tail -20 "$work/$kind.log" >&2; exit 1; }
  wall=$(( $(date +%s) - start ))
  read -r user sys <"$work/time"
  cpu=$(python3 -c "print(round(($user + $sys) / 60, 1))")
  printf '| `cargo %s` | %d min %02d s | %s CPU-min |\n' "${args[*]}" $((wall / 60)) $((wall % 60)) "$cpu"
  rm -rf "$CARGO_TARGET_DIR"
done
