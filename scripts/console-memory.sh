#!/usr/bin/env bash
# The console's memory (issue 19, item 6): builds the release desktop app (with the built UI),
# starts it under a private Xvfb in sandbox mode (its simulated shop on, a Redis of its own on a
# private port), signs in through WebKitWebDriver, idles 60 s, then visits every page in turn, one
# every few seconds, for --minutes N (default 30), and prints one JSON line:
#   {"bench":"console-memory","idle_rss_mb":..,"idle_pss_mb":..,"after_soak_rss_mb":..,"after_soak_pss_mb":..,"soak_minutes":..}
# MiB, summed over the app and its WebKit processes (PSS from /proc/PID/smaps_rollup, so shared
# libraries count once). Progress goes to stderr, with each process's figures, the pages counted
# once across the app's processes (as root: what the PSS would be with nothing else on the machine
# sharing WebKit's libraries, which lowers it) and the page's element and listener counts.
# Goals: idle_pss_mb <= 250 and after_soak_pss_mb <= 1.1 x idle_pss_mb at 30 minutes.
# Options: --minutes N, --page-seconds S (time on each page, default 3), --idle-seconds S (60),
# --no-build (measure the release binary as it is). CONSOLE_MEMORY_APP_ENV='{"JSC_useJIT":"true"}'
# adds environment for the app (to compare with the engine settings of src-tauri/src/webview.rs);
# CONSOLE_MEMORY_SMAPS_DIR=DIR keeps every process's /proc/PID/smaps at each figure, to see which
# mappings hold the memory.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$OPSDECK_ROOT"

build=1
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) build=0 ;;
    --minutes | --page-seconds | --idle-seconds)
      [ $# -ge 2 ] || die "$1 needs a value, e.g. $1 30"
      args+=("$1" "$2")
      shift
      ;;
    --minutes=* | --page-seconds=* | --idle-seconds=*) args+=("$1") ;;
    -h | --help)
      sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *) die "unknown argument $1 (expected --minutes N, --page-seconds S, --idle-seconds S, --no-build)" ;;
  esac
  shift
done

ensure_rust
ensure_packages "${RUN_PACKAGES[@]}" xvfb xauth webkit2gtk-driver
ensure_node
if [ "$build" = 1 ]; then
  # Progress only on stderr: stdout carries the JSON line alone.
  build_ui >&2
  build_desktop_release >&2
fi
[ -x "$DESKTOP_RELEASE_BIN" ] || die "no desktop build at $DESKTOP_RELEASE_BIN (run without --no-build)"

WORK="$(mktemp -d /tmp/opsdeck-console-memory.XXXXXX)"
XVFB_PID=""
cleanup() {
  [ -n "$XVFB_PID" ] && kill "$XVFB_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

# A display of its own (Xvfb picks a free number), at the app's default window size.
Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp 3>"$WORK/display" >/dev/null 2>&1 &
XVFB_PID=$!
wait_until 15 "Xvfb reporting its display" test -s "$WORK/display"

say "measuring the console's memory (${args[*]:-default options})"
# The driver starts the app's own Redis (tests/e2e/harness.mjs, openConsole) and removes it after.
# Nothing from the caller's environment configures the app.
env -u OPSDECK_DATABASE_URL -u OPSDECK_REDIS_URL -u OPSDECK_SERVER_URL -u OPSDECK_DATA_DIR \
  DISPLAY=":$(head -n1 "$WORK/display")" CONSOLE_MEMORY_XVFB_PID="$XVFB_PID" OPSDECK_DESKTOP_BIN="$DESKTOP_RELEASE_BIN" \
  node scripts/console-memory.mjs "${args[@]}"
