#!/usr/bin/env bash
# Where the bytes of the `release` binary go: the size of each section of the file, and the code
# (`.text`) of each crate, as cargo-bloat attributes it from the symbol table. `release` strips
# its symbols, so this builds it with them kept (`CARGO_PROFILE_RELEASE_STRIP=false`), in a
# target folder of its own so that the stripped build is not rebuilt; the stripped size is then
# measured on a stripped copy. Installs cargo-bloat when it is missing. A cold build takes as
# long as `cargo build --release` (see docs/PERFORMANCE.md).
#
#   bash benches/binary-size.sh          # the 30 largest crates, then the families
#   bash benches/binary-size.sh 60       # the 60 largest
set -euo pipefail
cd "$(dirname "$0")/.."
rows="${1:-30}"
command -v cargo-bloat >/dev/null || cargo install --locked cargo-bloat
export CARGO_TARGET_DIR="${BINARY_SIZE_TARGET_DIR:-$HOME/.cache/coordinator-release-unstripped}"
export CARGO_PROFILE_RELEASE_STRIP=false
cargo build --release --locked --bin coordinator >/dev/null
binary="$CARGO_TARGET_DIR/release/coordinator"
stripped="$(mktemp)"
trap 'rm -f "$stripped"' EXIT
strip -o "$stripped" "$binary"
echo "binary with symbols: $(stat -c %s "$binary") bytes; stripped: $(stat -c %s "$stripped") bytes"
echo
echo "sections of the stripped binary over 1 MB:"
size -A "$stripped" | awk '$1 ~ /^\./ && $2 > 1000000 { printf "  %-20s %6.1f MB\n", $1, $2 / 1e6 }'
echo
echo "code (.text) by crate, and by family of crates (LanceDB: lance*, lancedb, object_store,"
echo "libsais; DataFusion: datafusion*, sqlparser; Arrow: arrow*, parquet):"
cargo bloat --release --locked --bin coordinator --crates -n 0 --message-format json 2>/dev/null \
  | python3 -c '
import json, sys
rows = int(sys.argv[1])
d = json.load(sys.stdin)
text = d["text-section-size"]
crates = sorted(d["crates"], key=lambda c: -c["size"])
for c in crates[:rows]:
    name, size = c["name"], c["size"]
    print(f"  {name:40} {size / 1e6:6.1f} MB  {100 * size / text:4.1f}%")
print()
families = [("lance", "LanceDB"), ("object_store", "LanceDB"), ("libsais", "LanceDB"),
            ("datafusion", "DataFusion"), ("sqlparser", "DataFusion"), ("arrow", "Arrow"),
            ("parquet", "Arrow"), ("candle", "candle"), ("gemm", "candle"),
            ("serenity", "serenity"), ("coordinator", "coordinator"), ("std", "std")]
sizes = {}
for c in crates:
    family = next((f for prefix, f in families if c["name"].startswith(prefix)), "the rest")
    sizes[family] = sizes.get(family, 0) + c["size"]
for family, size in sorted(sizes.items(), key=lambda item: -item[1]):
    print(f"  {family:40} {size / 1e6:6.1f} MB  {100 * size / text:4.1f}%")
print("  %-40s %6.1f MB" % (".text", text / 1e6))
' "$rows"
