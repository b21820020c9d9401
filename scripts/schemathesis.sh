#!/usr/bin/env bash
# A property run of the REST API from its own OpenAPI document with Schemathesis: starts the
# service on a fresh SQLite database in a temporary folder, lets Schemathesis generate requests
# for every operation of /openapi.json (valid and invalid ones, with the bearer token), checks
# that no answer is a server error and that answers match the document, then stops the service.
#
#   scripts/schemathesis.sh                    # default budget
#   MAX_EXAMPLES=200 scripts/schemathesis.sh   # more examples per operation
#   scripts/schemathesis.sh --phases fuzzing   # extra arguments go to `schemathesis run`
#
# Environment: MAX_EXAMPLES (default 50), SEED (default 1, so runs repeat), CHECKS (default:
# server errors, status codes, content types, response headers and bodies against the
# document), SCHEMATHESIS (the command; installed into a virtualenv under ~/.cache when
# missing), DATABASE_URL is ignored: the run always gets its own SQLite file.
# Operations answering 503 by design in this set-up (integrations not configured):
# scripts/schemathesis.toml.
# Exit code: Schemathesis's (0 when every check passed).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"

schemathesis="${SCHEMATHESIS:-}"
if [ -z "$schemathesis" ]; then
  if command -v schemathesis >/dev/null 2>&1; then
    schemathesis=schemathesis
  else
    venv="${XDG_CACHE_HOME:-$HOME/.cache}/coordinator-schemathesis"
    if [ ! -x "$venv/bin/schemathesis" ]; then
      echo "--- installing Schemathesis into $venv"
      python3 -m venv "$venv"
      "$venv/bin/pip" install --quiet schemathesis
    fi
    schemathesis="$venv/bin/schemathesis"
  fi
fi

echo "--- building the service"
cargo build --quiet --manifest-path "$repo/Cargo.toml" --bin coordinator
target_dir="$(cargo metadata --format-version 1 --no-deps --manifest-path "$repo/Cargo.toml" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
binary="$target_dir/debug/coordinator"

work="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
token="schemathesis-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
base="http://127.0.0.1:$port"
pid=""
stop() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap stop EXIT

echo "--- starting the service on $base (log: $work/service.log)"
# The binary cargo built (a `cargo run` with these settings would rebuild: the SQL macros
# track DATABASE_URL), from the temporary folder, so that no .env or coordinator.toml of the checkout applies; only
# the settings below (no chat platform, no language model).
(
  cd "$work"
  exec env -i PATH="$PATH" HOME="$HOME" \
    DATABASE_URL="sqlite://$work/coordinator.db" \
    COORDINATOR_DATA_DIR="$work" \
    COORDINATOR_ADDR="127.0.0.1:$port" \
    COORDINATOR_API_TOKEN="$token" \
    HANDBOOK_DIR="$repo/handbook" \
    RUST_LOG="${RUST_LOG:-warn}" \
    "$binary" serve
) >"$work/service.log" 2>&1 &
pid=$!

for _ in $(seq 1 120); do
  curl -fsS "$base/health" >/dev/null 2>&1 && break
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "the service stopped during start-up:" >&2
    cat "$work/service.log" >&2
    exit 1
  fi
  sleep 0.5
done
if ! curl -fsS "$base/health" >/dev/null; then
  echo "the service did not answer /health within a minute:" >&2
  cat "$work/service.log" >&2
  exit 1
fi

checks="${CHECKS:-not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance}"
echo "--- schemathesis run $base/openapi.json (checks: $checks)"
status=0
"$schemathesis" --config-file "$repo/scripts/schemathesis.toml" run "$base/openapi.json" \
  --header "Authorization: Bearer $token" \
  --checks "$checks" \
  --max-examples "${MAX_EXAMPLES:-50}" \
  --seed "${SEED:-1}" \
  --workers 2 \
  --request-timeout 30 \
  "$@" || status=$?

if grep -q "panicked" "$work/service.log"; then
  echo "--- the service log shows panics:" >&2
  grep -A3 "panicked" "$work/service.log" >&2
  status=1
fi
if grep -q "ERROR" "$work/service.log"; then
  echo "--- errors in the service log (the cause of any 500 above):" >&2
  grep "ERROR" "$work/service.log" | sort | uniq -c | sort -rn | head -20 >&2
fi
exit "$status"
