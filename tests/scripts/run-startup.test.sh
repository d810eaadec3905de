#!/usr/bin/env bash
# scripts/run.sh's start-up (issue 19, item 7): build_ui_in (scripts/lib.sh) skips the UI build
# when nothing it reads changed, leaving ui/dist's files and their mtimes alone (the desktop crate
# embeds ui/dist and is relinked when a file there changes); a changed source is rebuilt; a failed
# build leaves no stamp that would call it fresh. Works on a copy of ui/ (its node_modules linked,
# never installed into) so that the checkout's own ui/dist is not touched.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"

[ -f "$OPSDECK_ROOT/ui/node_modules/.package-lock.json" ] || die "run npm ci in ui/ first"
WORK="$(mktemp -d /tmp/opsdeck-run-startup.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
UI="$WORK/ui"
mkdir -p "$UI"
(cd "$OPSDECK_ROOT/ui" && cp -a src index.html package.json package-lock.json vite.config.ts tsconfig*.json "$UI/")
ln -s "$OPSDECK_ROOT/ui/node_modules" "$UI/node_modules"

fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
mtime() { stat -c %y "$UI/dist/index.html"; }
# build LOG: build_ui_in on the copy, its messages in LOG.
build() { build_ui_in "$UI" 2>"$1"; }

build "$WORK/first.log" || { cat "$WORK/first.log" >&2; fail "the first build failed"; }
grep -q "building the UI" "$WORK/first.log" || fail "the first build of a fresh copy was skipped"
before="$(mtime)"

build "$WORK/second.log" || fail "the second build failed"
grep -q "the UI is up to date" "$WORK/second.log" || fail "unchanged sources were rebuilt: $(cat "$WORK/second.log")"
[ "$(mtime)" = "$before" ] || fail "an unchanged UI's dist/index.html was rewritten ($before -> $(mtime))"
echo "ok - unchanged sources: no build, dist untouched"

# Only the mtime changes: the contents are what counts.
touch "$UI/src/main.ts"
build "$WORK/touched.log" || fail "the build after touch failed"
grep -q "the UI is up to date" "$WORK/touched.log" || fail "a touched but unchanged source caused a rebuild"
echo "ok - a touched, unchanged source: no build"

printf '\nconsole.debug("run-startup test")\n' >>"$UI/src/main.ts"
build "$WORK/changed.log" || { cat "$WORK/changed.log" >&2; fail "the build after a change failed"; }
grep -q "building the UI" "$WORK/changed.log" || fail "a changed source was not rebuilt"
grep -rq "run-startup test" "$UI/dist/assets" || fail "the rebuilt dist does not hold the change"
echo "ok - a changed source: rebuilt"

# Hand-edited output is rebuilt too.
echo "/* edited */" >>"$UI/dist/index.html"
build "$WORK/dist.log" || fail "the build after editing dist failed"
grep -q "building the UI" "$WORK/dist.log" || fail "an edited dist/index.html was kept"
echo "ok - an edited dist: rebuilt"

printf '\nthis is not TypeScript (\n' >>"$UI/src/main.ts"
if build "$WORK/broken.log"; then fail "a broken source built"; fi
[ ! -e "$UI/.dist-stamp" ] || fail "a failed build left a stamp"
if build "$WORK/broken-again.log"; then fail "the broken source built the second time"; fi
grep -q "building the UI" "$WORK/broken-again.log" || fail "after a failed build the next one was skipped"
echo "ok - a failed build leaves no stamp; the next run builds again"
