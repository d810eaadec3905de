#!/usr/bin/env bash
# The README's test command: installs what is missing, starts Redis, MariaDB, an OpenID Connect
# provider (tests/oidc) and a virtual display on private ports with throwaway data, runs every
# check and test (lints, Rust, a schemathesis fuzz of the daemon's HTTP API, UI unit tests,
# end-to-end tests of the real desktop window), stops
# what it started, and exits non-zero when anything failed.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$OPSDECK_ROOT"

ensure_rust
ensure_packages "${TEST_PACKAGES[@]}"
ensure_node
ensure_npm_deps "$OPSDECK_ROOT/ui"

WORK="$(mktemp -d /tmp/opsdeck-test.XXXXXX)"
export OPSDECK_TEST_ARTIFACTS="$OPSDECK_ROOT/tests/e2e/artifacts"
XVFB_PID=""
cleanup() {
  set +e
  [ -n "$XVFB_PID" ] && kill "$XVFB_PID" 2>/dev/null
  stop_pidfile "$WORK/redis/redis.pid"
  stop_pidfile "$WORK/oidc/oidc.pid"
  stop_mariadb "$WORK/mariadb"
  rm -rf "$WORK"
}
trap cleanup EXIT

say "starting Redis, MariaDB, the test OIDC provider and Xvfb (throwaway, private ports)"
REDIS_PORT="$(free_port)"
start_redis "$REDIS_PORT" "$WORK/redis"
MYSQL_PORT="$(free_port)"
start_mariadb "$MYSQL_PORT" "$WORK/mariadb"
OIDC_PORT="$(free_port)"
start_oidc "$OIDC_PORT" "$WORK/oidc"
Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp 3>"$WORK/display" >/dev/null 2>&1 &
XVFB_PID=$!
wait_until 15 "Xvfb reporting its display" test -s "$WORK/display"
export DISPLAY=":$(head -n1 "$WORK/display")"
export OPSDECK_TEST_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
export OPSDECK_TEST_MYSQL_URL="mysql://opsdeck:opsdeck@127.0.0.1:$MYSQL_PORT/"
# tests/oidc/server.mjs (README.md there): clients opsdeck-test / opsdeck-test-post, secret
# opsdeck-test-secret, redirect_uri https://opsdeck.invalid/oauth/callback/oidc, PKCE S256 required.
export OPSDECK_TEST_OIDC_ISSUER="http://127.0.0.1:$OIDC_PORT"
# A throwaway CA (ca.pem) and its certificate for 127.0.0.1 (server.pem, server.key): the remote-mode
# e2e test's own opsdeckd serves HTTPS with it and the desktop trusts it (tests/e2e/daemon.mjs).
make_test_ca "$WORK/ca"
export OPSDECK_TEST_CA_DIR="$WORK/ca"
# The tests configure everything they use; nothing from the caller's environment leaks in.
unset OPSDECK_DATABASE_URL OPSDECK_REDIS_URL OPSDECK_REDIS_PREFIX OPSDECK_TIMEZONE OPSDECK_DATA_DIR OPSDECK_SERVER_URL OPSDECK_SERVER_CA

passed=0
failed=()
step() {
  local name="$1"
  shift
  say "$name"
  if "$@"; then
    passed=$((passed + 1))
  else
    failed+=("$name")
    printf '\033[31mFAILED: %s\033[0m\n' "$name" >&2
  fi
}

# --workspace: the desktop crate (src-tauri) too, which default-members leaves out of a plain build.
rust_tests() {
  if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --no-fail-fast
  else
    cargo test --workspace --no-fail-fast
  fi
}

# The daemon's HTTP API against its OpenAPI description (scripts/api-fuzz.sh).
api_fuzz() {
  "$OPSDECK_ROOT/scripts/api-fuzz.sh"
}

# The daemon's build has no GTK, WebKit or Tauri crate in it (issue 7: servers have no desktop
# libraries). The desktop's tree is checked to have them, so that the pattern is known to match.
daemon_without_gtk() {
  local pattern='^(gtk|gdk|webkit|javascriptcore|tauri|wry|soup)' desktop daemon
  desktop=$(cargo tree -p opsdeck -e normal,build --prefix none --quiet | grep -Eic "$pattern")
  daemon=$(cargo tree -p opsdeckd -e normal,build --prefix none --quiet | grep -Ei "$pattern" | sort -u)
  if [ "$desktop" -eq 0 ]; then
    echo "the pattern matches nothing even in the desktop's tree: the check is broken" >&2
    return 1
  fi
  if [ -n "$daemon" ]; then
    printf 'opsdeckd depends on desktop crates:\n%s\n' "$daemon" >&2
    return 1
  fi
  echo "opsdeckd: no GTK, WebKit or Tauri crate (the desktop has $desktop)"
}

e2e_tests() {
  build_desktop && node --test --test-concurrency=1 tests/e2e/
}

step "rustfmt" cargo fmt --all --check
step "UI type check (vue-tsc)" npm --prefix ui run --silent typecheck
step "UI unit tests (vitest)" npm --prefix ui test --silent
step "UI build" build_ui
step "UI build skipped when unchanged (tests/scripts)" bash tests/scripts/run-startup.test.sh
step "clippy -D warnings" cargo clippy --workspace --all-targets --quiet -- -D warnings
step "opsdeckd builds without GTK" daemon_without_gtk
step "Rust tests (SQLite, MariaDB, Redis)" rust_tests
step "HTTP API fuzz (schemathesis)" api_fuzz
step "end-to-end tests of the desktop window (WebKitWebDriver under Xvfb)" e2e_tests

echo
if [ "${#failed[@]}" -gt 0 ]; then
  printf 'failed steps: %s\n' "${failed[*]}"
fi
echo "test steps: $passed passed, ${#failed[@]} failed"
[ "${#failed[@]}" -eq 0 ]
