#!/usr/bin/env bash
# The README's run command: installs what is missing, builds the UI and the desktop app (when their
# sources changed: a warm start neither rebuilds the UI nor relinks the app), starts a
# local Redis (Debian's redis-server on a private port, files under the OpsDeck data dir) when no
# Redis URL is configured, and opens the console on the embedded SQLite database.
# Arguments are passed to the app (e.g. --config PATH).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$OPSDECK_ROOT"

if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  cat >&2 <<'MSG'
OpsDeck's console needs a display, and neither DISPLAY nor WAYLAND_DISPLAY is set.
- On a desktop: run this command from a terminal inside your desktop session.
- On a machine without a screen: xvfb-run -a scripts/run.sh   (a virtual display; screenshots with `import -window root`)
- On a server: the headless daemon runs the same core without a window:
    cargo run -p opsdeckd -- run
MSG
  exit 3
fi

ensure_rust
ensure_packages "${RUN_PACKAGES[@]}"
ensure_node
build_ui
build_desktop

# The effective configuration (this also validates it: a bad value stops here, naming the key).
config_json="$("$OPSDECK_ROOT/target/debug/opsdeckd" "$@" check-config --json)"
read -r redis_origin data_dir < <(python3 -c '
import json, sys
c = json.loads(sys.argv[1])
print(c["origins"]["redis_url"], c["values"]["data_dir"])' "$config_json")

LOCAL_REDIS_PORT=6391
STARTED_REDIS=""
if [ "$redis_origin" = "default" ]; then
  if redis-cli -p "$LOCAL_REDIS_PORT" ping >/dev/null 2>&1; then
    say "using the local Redis already running on port $LOCAL_REDIS_PORT"
  else
    say "starting a local Redis on port $LOCAL_REDIS_PORT (files in $data_dir/redis)"
    start_redis "$LOCAL_REDIS_PORT" "$data_dir/redis"
    STARTED_REDIS="$data_dir/redis/redis.pid"
  fi
fi
trap '[ -n "$STARTED_REDIS" ] && stop_pidfile "$STARTED_REDIS"' EXIT

say "opening the console"
"$DESKTOP_BIN" "$@"
