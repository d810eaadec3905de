# Shared set-up for the README's two commands (scripts/run.sh and scripts/test.sh).
# Every function is idempotent: it checks before it installs, builds or starts anything.
# shellcheck shell=bash

OPSDECK_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export OPSDECK_ROOT

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# The Debian packages the desktop build, the services and the tests need.
DESKTOP_BUILD_PACKAGES=(
  build-essential pkg-config libssl-dev libwebkit2gtk-4.1-dev libgtk-3-dev libsoup-3.0-dev
  libjavascriptcoregtk-4.1-dev librsvg2-dev libayatana-appindicator3-dev libxdo-dev
  libdbus-1-dev
)
# fonts-noto-cjk: the console speaks Chinese (zh-CN); without a CJK font WebKitGTK draws boxes.
RUN_PACKAGES=("${DESKTOP_BUILD_PACKAGES[@]}" redis-server fonts-noto-cjk)
# openssl: the throwaway CA of the HTTPS tests (make_test_ca) and the daemon's key-format tests.
TEST_PACKAGES=("${RUN_PACKAGES[@]}" mariadb-server mariadb-client xvfb xauth webkit2gtk-driver imagemagick faketime openssl)

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# ensure_packages PKG...: installs the ones that are missing (apt-get update once, first).
ensure_packages() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    say "installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# Node.js 20+ and npm: the machine's own, else Debian's.
ensure_node() {
  if ! command -v npm >/dev/null 2>&1; then
    ensure_packages nodejs npm
  fi
  local major
  major="$(node -p 'process.versions.node.split(".")[0]')"
  [ "$major" -ge 20 ] || die "Node.js 20 or newer is needed to build the UI (found $(node --version))"
}

ensure_rust() {
  command -v cargo >/dev/null 2>&1 || die "cargo not found: install Rust (rustup) first"
}

# npm ci in DIR when its node_modules is missing or older than its package-lock.json.
ensure_npm_deps() {
  local dir="$1"
  if [ ! -f "$dir/node_modules/.package-lock.json" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    say "installing npm packages in ${dir#"$OPSDECK_ROOT"/}"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

build_ui() {
  ensure_npm_deps "$OPSDECK_ROOT/ui"
  build_ui_in "$OPSDECK_ROOT/ui"
}

# What a UI build reads, relative to the UI's directory: its sources, its configuration and the
# installed packages (npm's record of them). The unit tests under src/**/__tests__ are not bundled.
UI_BUILD_INPUTS=(src public index.html package.json package-lock.json node_modules/.package-lock.json
  vite.config.ts tsconfig.json tsconfig.app.json tsconfig.node.json)

# files_hash DIR PATH...: one hash of the names and contents of the files under the PATHs that
# exist in DIR (missing ones are left out), unit tests excepted.
files_hash() {
  local dir="$1" path present=()
  shift
  for path in "$@"; do
    [ -e "$dir/$path" ] && present+=("$path")
  done
  (cd "$dir" && find "${present[@]}" -type f ! -path '*/__tests__/*' -print0 | LC_ALL=C sort -z \
    | xargs -0r sha256sum | sha256sum | cut -d' ' -f1)
}

# build_ui_in DIR: `npm run build` in DIR (into DIR/dist) unless DIR/.dist-stamp says that dist was
# built from exactly these inputs and has not been touched since. A skipped build leaves dist's
# files (and their mtimes) alone, so the desktop crate, which embeds ui/dist and is rebuilt when
# a file there changes, is not relinked either: a warm `scripts/run.sh` opens the window in about
# two seconds. The stamp is removed before a build and written only after one succeeded.
build_ui_in() {
  local dir="$1" stamp="$1/.dist-stamp" inputs
  inputs="$(files_hash "$dir" "${UI_BUILD_INPUTS[@]}")" || return 1
  if [ -f "$dir/dist/index.html" ] && [ -f "$stamp" ] \
    && [ "$(cat "$stamp")" = "$inputs $(files_hash "$dir" dist)" ]; then
    say "the UI is up to date (its sources have not changed since it was built)"
    return 0
  fi
  say "building the UI"
  rm -f "$stamp"
  (cd "$dir" && npm run --silent build >/dev/null) || return 1
  printf '%s %s\n' "$inputs" "$(files_hash "$dir" dist)" >"$stamp.tmp" && mv -f "$stamp.tmp" "$stamp"
}

# The desktop binary, serving ui/dist through the custom protocol (never devUrl).
DESKTOP_BIN="$OPSDECK_ROOT/target/debug/opsdeck"
build_desktop() {
  say "building the desktop app"
  (cd "$OPSDECK_ROOT" && cargo build --quiet -p opsdeck --features custom-protocol -p opsdeckd)
}

# The desktop app as shipped (Cargo.toml's `desktop` profile: release, built for size, thin LTO),
# for measuring it (scripts/console-memory.sh). The same target dir as every other build (its own
# `target/desktop` folder); cargo rebuilds only what changed, so a second call is quick.
DESKTOP_RELEASE_BIN="$OPSDECK_ROOT/target/desktop/opsdeck"
build_desktop_release() {
  say "building the desktop app (desktop profile: release, built for size)"
  (cd "$OPSDECK_ROOT" && cargo build --quiet --profile desktop -p opsdeck --features custom-protocol)
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# wait_until SECONDS WHAT COMMAND...: polls COMMAND every 0.2 s, fails after SECONDS.
wait_until() {
  local seconds="$1" what="$2" deadline
  shift 2
  deadline=$(( $(date +%s) + seconds ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || die "$what did not happen within ${seconds}s"
    sleep 0.2
  done
}

# make_test_ca DIR: a throwaway CA and a server certificate it signed, for the HTTPS tests:
# DIR/ca.pem, DIR/server.pem (SAN IP:127.0.0.1 and DNS:localhost, 30 days) and DIR/server.key
# (PKCS#8, 0600). The CA's key is thrown away. Idempotent: the files are kept while the server
# certificate verifies against the CA and stays valid for another day.
make_test_ca() {
  local dir="${1:?make_test_ca DIR}"
  command -v openssl >/dev/null 2>&1 || ensure_packages openssl
  mkdir -p "$dir"
  if [ -s "$dir/server.key" ] && openssl verify -CAfile "$dir/ca.pem" "$dir/server.pem" >/dev/null 2>&1 \
    && openssl x509 -in "$dir/server.pem" -noout -checkend 86400 >/dev/null 2>&1; then
    return 0
  fi
  local tmp
  tmp="$(mktemp -d "$dir/.make_test_ca.XXXXXX")"
  if ! (
    set -e
    umask 077
    cd "$tmp"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -days 30 \
      -subj "/CN=OpsDeck test CA" -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign"
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key -out server.csr \
      -subj "/CN=localhost"
    printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" "basicConstraints=critical,CA:FALSE" \
      "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" >server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -set_serial "0x$(openssl rand -hex 8)" -days 30 \
      -extfile server.ext -out server.pem
    chmod 644 ca.pem server.pem
  ) >/dev/null 2>"$tmp/openssl.log"; then
    cat "$tmp/openssl.log" >&2
    rm -rf "$tmp"
    die "make_test_ca: openssl could not make the test CA in $dir"
  fi
  mv -f "$tmp/ca.pem" "$tmp/server.pem" "$tmp/server.key" "$dir/"
  rm -rf "$tmp"
}

# start_redis PORT DIR: a Redis server on 127.0.0.1:PORT keeping its files in DIR.
start_redis() {
  local port="$1" dir="$2"
  mkdir -p "$dir"
  redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --daemonize yes \
    --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --save 60 1 --appendonly no >/dev/null
  wait_until 15 "Redis on port $port answering" redis-cli -p "$port" ping
}

stop_pidfile() {
  local pidfile="$1"
  if [ -f "$pidfile" ]; then
    kill "$(cat "$pidfile")" 2>/dev/null || true
    rm -f "$pidfile"
  fi
}

# start_oidc PORT DIR: a real OpenID Connect provider (tests/oidc/server.mjs, panva's
# oidc-provider) on 127.0.0.1:PORT with the issuer http://127.0.0.1:PORT, its pid in DIR/oidc.pid
# and its log in DIR/oidc.log; returns once its discovery document answers with that issuer.
# Stop it with stop_pidfile DIR/oidc.pid.
start_oidc() {
  local port="$1" dir="$2" issuer="http://127.0.0.1:$1" pid deadline
  ensure_node
  ensure_npm_deps "$OPSDECK_ROOT/tests/oidc"
  mkdir -p "$dir"
  node "$OPSDECK_ROOT/tests/oidc/server.mjs" --port "$port" >"$dir/oidc.log" 2>&1 &
  pid=$!
  echo "$pid" >"$dir/oidc.pid"
  deadline=$(($(date +%s) + 30))
  until grep -qxF "listening $issuer" "$dir/oidc.log" 2>/dev/null && oidc_discovery_answers "$issuer"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 40 "$dir/oidc.log" >&2
      rm -f "$dir/oidc.pid"
      die "the test OIDC provider on port $port exited (log above, $dir/oidc.log)"
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      tail -n 40 "$dir/oidc.log" >&2
      stop_pidfile "$dir/oidc.pid"
      die "the test OIDC provider on port $port did not answer within 30s (log above)"
    fi
    sleep 0.2
  done
}

# oidc_discovery_answers ISSUER: ISSUER/.well-known/openid-configuration names exactly ISSUER.
oidc_discovery_answers() {
  node -e '
    const issuer = process.argv[1];
    fetch(issuer + "/.well-known/openid-configuration", { signal: AbortSignal.timeout(2000) })
      .then((r) => r.json())
      .then((d) => process.exit(d.issuer === issuer ? 0 : 1), () => process.exit(1));
  ' "$1" >/dev/null 2>&1
}

# start_mariadb PORT DIR: a throwaway MariaDB on 127.0.0.1:PORT with user opsdeck/opsdeck.
start_mariadb() {
  local port="$1" dir="$2"
  mkdir -p "$dir"
  mariadb-install-db --no-defaults --datadir="$dir/data" --user="$(id -un)" \
    --auth-root-authentication-method=normal --skip-test-db >"$dir/install.log" 2>&1 \
    || { cat "$dir/install.log" >&2; die "mariadb-install-db failed"; }
  mariadbd --no-defaults --datadir="$dir/data" --port="$port" --bind-address=127.0.0.1 \
    --socket="$dir/mysql.sock" --pid-file="$dir/mysql.pid" --user="$(id -un)" \
    --skip-log-bin --innodb-buffer-pool-size=64M --innodb-flush-log-at-trx-commit=2 \
    >"$dir/server.log" 2>&1 &
  wait_until 60 "MariaDB on port $port answering" mariadb-admin --no-defaults --socket="$dir/mysql.sock" -uroot ping
  mariadb --no-defaults --socket="$dir/mysql.sock" -uroot -e "
    CREATE USER IF NOT EXISTS 'opsdeck'@'127.0.0.1' IDENTIFIED BY 'opsdeck';
    GRANT ALL PRIVILEGES ON *.* TO 'opsdeck'@'127.0.0.1';
    FLUSH PRIVILEGES;"
}

stop_mariadb() {
  local dir="$1"
  if [ -S "$dir/mysql.sock" ]; then
    mariadb-admin --no-defaults --socket="$dir/mysql.sock" -uroot shutdown >/dev/null 2>&1 || true
  fi
  stop_pidfile "$dir/mysql.pid"
}

# schemathesis (PyPI), pinned, in its own virtualenv under ~/.cache/opsdeck/schemathesis: the HTTP
# API fuzz step. Sets SCHEMATHESIS to the executable.
SCHEMATHESIS_VERSION="4.32.5"
SCHEMATHESIS_VENV="${XDG_CACHE_HOME:-$HOME/.cache}/opsdeck/schemathesis"
SCHEMATHESIS="$SCHEMATHESIS_VENV/bin/schemathesis"
ensure_schemathesis() {
  if [ -x "$SCHEMATHESIS" ] && [ "$("$SCHEMATHESIS" --version 2>/dev/null | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' | head -n1)" = "$SCHEMATHESIS_VERSION" ]; then
    return 0
  fi
  if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    ensure_packages python3-venv
  fi
  say "installing schemathesis $SCHEMATHESIS_VERSION in ${SCHEMATHESIS_VENV/#"$HOME"/\~}"
  rm -rf "$SCHEMATHESIS_VENV"
  python3 -m venv "$SCHEMATHESIS_VENV" || die "cannot create a Python virtualenv (python3-venv)"
  "$SCHEMATHESIS_VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION" \
    || { rm -rf "$SCHEMATHESIS_VENV"; die "cannot install schemathesis $SCHEMATHESIS_VERSION from PyPI"; }
}
