#!/usr/bin/env bash
# Fuzzes the daemon's HTTP API with schemathesis against its own description (the OpenAPI
# document generated from its code, fetched from the live daemon's /openapi.json): builds
# opsdeckd, starts `opsdeckd run --listen` on a free port
# with throwaway data (a temp data dir, the test Redis under a fresh prefix, a random API token,
# sandbox Baidu and Alipay), waits for /healthz, runs schemathesis with a bounded number of
# examples (every route with the API token; then the console's /api/v1/ routes with an
# operator's staff session from `opsdeckd staff token`), stops the daemon, and exits non-zero if schemathesis found anything (or the daemon
# did not stop cleanly).
#
# Needs OPSDECK_TEST_REDIS_URL (scripts/test.sh sets it). By hand, e.g.:
#   redis-server --port 6399 --daemonize yes --save ''
#   OPSDECK_TEST_REDIS_URL=redis://127.0.0.1:6399/0 scripts/api-fuzz.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$OPSDECK_ROOT"

: "${OPSDECK_TEST_REDIS_URL:?is not set: run scripts/test.sh, or start a Redis and set it (see the header of this script)}"
# Test cases per API operation and phase; about a minute in all on two cores.
EXAMPLES="${OPSDECK_FUZZ_EXAMPLES:-100}"

ensure_rust
ensure_schemathesis
say "building opsdeckd"
cargo build --quiet -p opsdeckd

WORK="$(mktemp -d /tmp/opsdeck-fuzz.XXXXXX)"
DAEMON_PID=""
stop_daemon() {
  local pid="$DAEMON_PID" status=0
  DAEMON_PID=""
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" || status=$?
  return "$status"
}
cleanup() {
  set +e
  stop_daemon
  rm -rf "$WORK"
}
trap cleanup EXIT

PORT="$(free_port)"
BASE="http://127.0.0.1:$PORT"
TOKEN="$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
# Nothing from the caller's OPSDECK_ environment or config file reaches the daemon.
unset_opsdeck=()
while IFS= read -r name; do unset_opsdeck+=(-u "$name"); done < <(compgen -e | grep '^OPSDECK_' || true)
say "starting opsdeckd run --listen 127.0.0.1:$PORT (sandbox providers, throwaway data)"
daemon_env=("${unset_opsdeck[@]}" HOME="$WORK" XDG_CONFIG_HOME="$WORK/config"
  OPSDECK_DATA_DIR="$WORK/data"
  OPSDECK_REDIS_URL="$OPSDECK_TEST_REDIS_URL"
  OPSDECK_REDIS_PREFIX="fuzz-$$-$RANDOM"
  OPSDECK_API_TOKEN="$TOKEN"
  OPSDECK_LOG="warn,opsdeckd=info"
  NO_COLOR=1)
env "${daemon_env[@]}" "$OPSDECK_ROOT/target/debug/opsdeckd" run --listen "127.0.0.1:$PORT" >"$WORK/daemon.log" 2>&1 &
DAEMON_PID=$!

healthy() {
  python3 - "$BASE/healthz" <<'PY'
import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=2) as r:
        sys.exit(0 if r.status == 200 else 1)
except Exception:
    sys.exit(1)
PY
}
deadline=$(($(date +%s) + 60))
until healthy; do
  if ! kill -0 "$DAEMON_PID" 2>/dev/null; then
    tail -n 40 "$WORK/daemon.log" >&2
    DAEMON_PID=""
    die "opsdeckd exited before answering /healthz (log above)"
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    tail -n 40 "$WORK/daemon.log" >&2
    die "opsdeckd did not answer /healthz with 200 within 60s (log above)"
  fi
  sleep 0.2
done

CHECKS=not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,negative_data_rejection,missing_required_header,unsupported_method,allow_header_conformance,ignored_auth
say "schemathesis $SCHEMATHESIS_VERSION: $EXAMPLES examples per operation (with the API token: the console's /api/v1/ routes answer 401)"
status=0
# Run from the work dir: schemathesis and Hypothesis keep their files in the current directory.
(cd "$WORK" && timeout 300 "$SCHEMATHESIS" run "$BASE/openapi.json" \
  --url "$BASE" \
  --header "Authorization: Bearer $TOKEN" \
  --checks "$CHECKS" \
  --max-examples "$EXAMPLES" \
  --request-timeout 10 \
  --no-color) || status=$?

# The console's operations (/api/v1/) again with an operator's staff session, issued by
# `opsdeckd staff token` on the daemon's database (the token is its last line of stdout). Sign-out
# is left out: it would end the session the run uses; so is the live-event stream (v1_events),
# whose answer never ends while the session lives (tests/http/events.rs covers it).
if issued="$(env "${daemon_env[@]}" "$OPSDECK_ROOT/target/debug/opsdeckd" staff token --name fuzz-operator --role operator 2>"$WORK/staff-token.log")"; then
  SESSION="$(printf '%s\n' "$issued" | tail -n1)"
  say "schemathesis over /api/v1/ with an operator's session: $EXAMPLES examples per operation"
  (cd "$WORK" && timeout 300 "$SCHEMATHESIS" run "$BASE/openapi.json" \
    --url "$BASE" \
    --header "Authorization: Bearer $SESSION" \
    --include-path-regex '^/api/v1/' \
    --exclude-operation-id v1_sign_out \
    --exclude-operation-id v1_events \
    --checks "$CHECKS" \
    --max-examples "$EXAMPLES" \
    --request-timeout 10 \
    --no-color) || status=$?
else
  cat "$WORK/staff-token.log" >&2
  echo "opsdeckd staff token failed (above): /api/v1/ could not be fuzzed with a session" >&2
  status=1
fi

if ! stop_daemon; then
  tail -n 40 "$WORK/daemon.log" >&2
  echo "opsdeckd did not stop cleanly on SIGTERM (log above)" >&2
  status=1
fi
if grep -q "panicked" "$WORK/daemon.log"; then
  grep -B2 -A10 "panicked" "$WORK/daemon.log" >&2
  echo "opsdeckd panicked during the fuzz (above)" >&2
  status=1
fi
exit "$status"
