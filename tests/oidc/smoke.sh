#!/usr/bin/env bash
# Walks the test OIDC provider (server.mjs) through the authorization code + PKCE flow with curl
# and a cookie jar, the way a non-browser client does, plus the error paths that must be refused.
# Not part of scripts/test.sh: run it by hand to check the provider.
#
#   tests/oidc/smoke.sh                     starts its own provider on a free port, stops it after
#   OPSDECK_TEST_OIDC_ISSUER=http://127.0.0.1:N tests/oidc/smoke.sh     uses a running one
#
# Needs curl and node (JSON, hashing, JWT decoding); prints one line per check and
# "smoke: N passed, N failed" at the end; exits non-zero if any check failed.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TMP="$(mktemp -d /tmp/opsdeck-oidc-smoke.XXXXXX)"
SERVER_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT

ISS="${OPSDECK_TEST_OIDC_ISSUER:-}"
if [ -z "$ISS" ]; then
  [ -d "$HERE/node_modules/oidc-provider" ] || (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error)
  node "$HERE/server.mjs" --port 0 >"$TMP/server.out" 2>"$TMP/server.err" &
  SERVER_PID=$!
  for _ in $(seq 100); do
    grep -q '^listening ' "$TMP/server.out" 2>/dev/null && break
    sleep 0.1
  done
  ISS="$(awk '/^listening /{print $2; exit}' "$TMP/server.out")"
  [ -n "$ISS" ] || { cat "$TMP/server.err" >&2; echo "provider did not start" >&2; exit 1; }
fi

CLIENT=opsdeck-test
SECRET=opsdeck-test-secret
REDIRECT=https://opsdeck.invalid/oauth/callback/oidc
REDIRECT_ENC=https%3A%2F%2Fopsdeck.invalid%2Foauth%2Fcallback%2Foidc
passed=0
failed=0
ok() { passed=$((passed + 1)); printf 'ok   %s\n' "$*"; }
bad() { failed=$((failed + 1)); printf 'FAIL %s\n' "$*"; }
check() { local what="$1"; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }

# json FILE EXPR: evaluates EXPR on the JSON in FILE (bound to j) with node.
json() { node -e 'const j=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")); const v=eval(process.argv[2]); console.log(typeof v==="string"?v:JSON.stringify(v))' "$1" "$2"; }
jwt_payload() { node -e 'console.log(Buffer.from(process.argv[1].split(".")[1],"base64url").toString())' "$1"; }
pkce_pair() { node -e 'const c=require("crypto"); const v=c.randomBytes(32).toString("base64url"); console.log(v, c.createHash("sha256").update(v).digest("base64url"))'; }
urlparam() { node -e 'console.log(new URL(process.argv[1]).searchParams.get(process.argv[2]) ?? "")' "$1" "$2"; }

# req NAME JAR CURL-ARGS...: one request, no redirects followed; status in $TMP/NAME.status,
# headers in $TMP/NAME.h, body in $TMP/NAME.b, Location header in $LOC.
req() {
  local name="$1" jar="$2" url="" method=GET arg
  shift 2
  for arg in "$@"; do
    case "$arg" in http://* | https://*) url="$arg" ;; esac
    case "$arg" in --data* | -d) method=POST ;; esac
  done
  curl -sS -o "$TMP/$name.b" -D "$TMP/$name.h" -w '%{http_code}' -b "$jar" -c "$jar" "$@" >"$TMP/$name.status"
  STATUS="$(cat "$TMP/$name.status")"
  LOC="$(sed -n 's/^[Ll]ocation: *//p' "$TMP/$name.h" | head -n1 | tr -d '\r')"
  printf '     %-18s %-4s %s -> %s%s\n' "$name" "$method" "${url:0:90}" "$STATUS" "${LOC:+  Location: ${LOC:0:100}}"
}
absolute() { case "$1" in http*) echo "$1" ;; *) echo "$ISS$1" ;; esac; }

echo "issuer: $ISS"

# 1. discovery
req discovery "$TMP/none" "$ISS/.well-known/openid-configuration"
check "discovery answers 200" [ "$STATUS" = 200 ]
check "discovery issuer is exactly $ISS" [ "$(json "$TMP/discovery.b" j.issuer)" = "$ISS" ]
check "discovery lists S256 only" [ "$(json "$TMP/discovery.b" j.code_challenge_methods_supported)" = '["S256"]' ]

# authorize JAR NAME SCOPE [EXTRA-QUERY]: the first request of a flow; sets VERIFIER.
authorize() {
  local jar="$1" name="$2" scope="$3" extra="${4:-}" pair challenge
  pair="$(pkce_pair)"
  VERIFIER="${pair% *}"
  challenge="${pair#* }"
  req "$name" "$jar" "$ISS/auth?client_id=${CLIENT_ID:-$CLIENT}&response_type=code&scope=$scope&redirect_uri=$REDIRECT_ENC&state=xyz&nonce=n1&code_challenge=$challenge&code_challenge_method=S256$extra"
}

# 2. authorization request -> 303 to the login page
JAR="$TMP/jar1"
authorize "$JAR" auth 'openid%20profile%20email%20phone'
check "GET /auth answers 303" [ "$STATUS" = 303 ]
check "... to /interaction/UID" grep -q '^/interaction/[A-Za-z0-9_-]*$' <<<"$LOC"
INTERACTION="$LOC"

# 3. login page
req login_page "$JAR" "$(absolute "$INTERACTION")"
check "GET /interaction/UID answers 200" [ "$STATUS" = 200 ]
check "... with the login form" grep -q '<input id="login" name="login"' "$TMP/login_page.b"
check "... and the submit button" grep -q '<button id="submit" type="submit">Sign in</button>' "$TMP/login_page.b"
check "... titled 'OpsDeck test OIDC provider'" grep -q '<title>OpsDeck test OIDC provider</title>' "$TMP/login_page.b"

# 3b. an empty login name is refused and the form shown again
req login_empty "$JAR" "$(absolute "$INTERACTION")/login" --data-urlencode 'login=  '
check "POST empty login answers 400 with the form and an error" \
  bash -c '[ "$1" = 400 ] && grep -q "id=\"error\"" "$2" && grep -q "id=\"login\"" "$2"' _ "$STATUS" "$TMP/login_empty.b"

# 4. submit the login -> 303 back to /auth/UID (resume)
req login_post "$JAR" "$(absolute "$INTERACTION")/login" --data-urlencode 'login=alice'
check "POST /interaction/UID/login answers 303" [ "$STATUS" = 303 ]
check "... to $ISS/auth/UID" grep -q "^$ISS/auth/[A-Za-z0-9_-]*$" <<<"$LOC"

# 5. resume -> 303 to the redirect_uri with code, state and iss
req resume "$JAR" "$(absolute "$LOC")"
check "GET /auth/UID answers 303" [ "$STATUS" = 303 ]
check "... to $REDIRECT?code=..." grep -q "^$REDIRECT?code=" <<<"$LOC"
check "... with state=xyz" [ "$(urlparam "$LOC" state)" = xyz ]
check "... with iss=$ISS" [ "$(urlparam "$LOC" iss)" = "$ISS" ]
CODE="$(urlparam "$LOC" code)"

# 6. token request: client_secret_basic + code_verifier
req token_bad_verifier "$TMP/none" "$ISS/token" -u "$CLIENT:$SECRET" \
  --data-urlencode grant_type=authorization_code --data-urlencode "code=$CODE" \
  --data-urlencode "redirect_uri=$REDIRECT" --data-urlencode "code_verifier=${VERIFIER}x"
check "token request with a wrong code_verifier is refused (invalid_grant)" \
  bash -c '[ "$1" = 400 ] && grep -q invalid_grant "$2"' _ "$STATUS" "$TMP/token_bad_verifier.b"
# (a failed PKCE check does not consume the code: the right verifier still works)
req token "$TMP/none" "$ISS/token" -u "$CLIENT:$SECRET" \
  --data-urlencode grant_type=authorization_code --data-urlencode "code=$CODE" \
  --data-urlencode "redirect_uri=$REDIRECT" --data-urlencode "code_verifier=$VERIFIER"
check "POST /token answers 200" [ "$STATUS" = 200 ]
check "... with token_type Bearer, expires_in 3600" \
  [ "$(json "$TMP/token.b" '[j.token_type, j.expires_in].join(" ")')" = "Bearer 3600" ]
ACCESS="$(json "$TMP/token.b" j.access_token)"
ID_TOKEN="$(json "$TMP/token.b" j.id_token)"
jwt_payload "$ID_TOKEN" >"$TMP/id.json"
echo "     id_token payload: $(cat "$TMP/id.json")"
check "id_token: iss, aud, sub, nonce" [ "$(json "$TMP/id.json" '[j.iss, j.aud, j.sub, j.nonce].join(" ")')" = "$ISS $CLIENT alice n1" ]
check "id_token: name, email, phone_number" \
  [ "$(json "$TMP/id.json" '[j.name, j.email, j.email_verified, j.phone_number].join(" ")')" = "Alice alice@example.test true +8613800000001" ]
check "id_token header alg RS256" [ "$(node -e 'console.log(JSON.parse(Buffer.from(process.argv[1].split(".")[0],"base64url")).alg)' "$ID_TOKEN")" = RS256 ]
check "no refresh_token without offline_access" [ "$(json "$TMP/token.b" 'j.refresh_token ?? "none"')" = none ]

# 7. userinfo
req userinfo "$TMP/none" "$ISS/me" -H "Authorization: Bearer $ACCESS"
echo "     userinfo: $(cat "$TMP/userinfo.b")"
check "GET /me answers 200 with sub, name, nickname, picture, email, phone" \
  [ "$(json "$TMP/userinfo.b" '[j.sub, j.name, j.nickname, !!j.picture, j.email, j.phone_number].join(" ")')" = "alice Alice Alice true alice@example.test +8613800000001" ]

# 8. the code is single-use
req token_replay "$TMP/none" "$ISS/token" -u "$CLIENT:$SECRET" \
  --data-urlencode grant_type=authorization_code --data-urlencode "code=$CODE" \
  --data-urlencode "redirect_uri=$REDIRECT" --data-urlencode "code_verifier=$VERIFIER"
check "a code cannot be redeemed twice" [ "$STATUS" = 400 ]

# 9. same browser session, offline_access: oidc-provider keeps offline_access only with
# prompt=consent (OIDC Core 11); consent is granted by GET /interaction/UID without a form.
# (The replayed code above also revoked the grant, so consent would be asked for anyway.)
authorize "$JAR" auth2 'openid%20profile%20email%20offline_access' '&prompt=consent'
check "prompt=consent with a session answers 303 to /interaction/UID" grep -q '^/interaction/' <<<"$LOC"
req consent "$JAR" "$(absolute "$LOC")"
check "consent-only GET /interaction/UID answers 303 to /auth/UID (no form)" \
  bash -c '[ "$1" = 303 ] && grep -q "/auth/" <<<"$2"' _ "$STATUS" "$LOC"
req resume2 "$JAR" "$(absolute "$LOC")"
check "second authorization in the same session reaches $REDIRECT?code= without the form" grep -q "^$REDIRECT?code=" <<<"$LOC"
CODE="$(urlparam "$LOC" code)"
req token2 "$TMP/none" "$ISS/token" -u "$CLIENT:$SECRET" \
  --data-urlencode grant_type=authorization_code --data-urlencode "code=$CODE" \
  --data-urlencode "redirect_uri=$REDIRECT" --data-urlencode "code_verifier=$VERIFIER"
check "offline_access + prompt=consent gives a refresh_token, scope includes offline_access" \
  [ "$(json "$TMP/token2.b" '[!!j.refresh_token, j.scope].join(" ")')" = "true openid profile email offline_access" ]
REFRESH="$(json "$TMP/token2.b" j.refresh_token)"
req refresh "$TMP/none" "$ISS/token" -u "$CLIENT:$SECRET" \
  --data-urlencode grant_type=refresh_token --data-urlencode "refresh_token=$REFRESH"
check "refresh_token grant answers 200 with a new id_token, access_token and refresh_token" \
  bash -c '[ "$1" = 200 ] && [ "$(node -e "const j=JSON.parse(require(\"fs\").readFileSync(process.argv[1], \"utf8\")); console.log(!!(j.id_token && j.access_token && j.refresh_token))" "$2")" = true ]' _ "$STATUS" "$TMP/refresh.b"

# 10. same session, no new scopes, no prompt: redirected at once
authorize "$JAR" auth3 'openid%20profile%20email'
check "third authorization (existing grant) redirects at once to $REDIRECT?code=" grep -q "^$REDIRECT?code=" <<<"$LOC"

# 11. prompt=login forces the form even with a session
authorize "$JAR" auth_prompt 'openid' '&prompt=login'
req login_page2 "$JAR" "$(absolute "$LOC")"
check "prompt=login shows the login form again" grep -q 'id="login"' "$TMP/login_page2.b"

# 12. client_secret_post client, other user (fresh cookie jar)
JAR="$TMP/jar2"
CLIENT_ID=opsdeck-test-post authorize "$JAR" auth_post 'openid%20profile%20email%20phone'
INTERACTION="$(absolute "$LOC")"
req login_page3 "$JAR" "$INTERACTION"
req login_post3 "$JAR" "$INTERACTION/login" --data-urlencode 'login=bob'
req resume3 "$JAR" "$LOC"
CODE="$(urlparam "$LOC" code)"
req token_post "$TMP/none" "$ISS/token" --data-urlencode client_id=opsdeck-test-post \
  --data-urlencode "client_secret=$SECRET" --data-urlencode grant_type=authorization_code \
  --data-urlencode "code=$CODE" --data-urlencode "redirect_uri=$REDIRECT" --data-urlencode "code_verifier=$VERIFIER"
jwt_payload "$(json "$TMP/token_post.b" j.id_token)" >"$TMP/id2.json"
check "opsdeck-test-post (client_secret_post) gets tokens for bob, no phone_number" \
  [ "$(json "$TMP/id2.json" '[j.aud, j.sub, j.name, j.email, j.phone_number ?? "none"].join(" ")')" = "opsdeck-test-post bob Bob bob@example.test none" ]
req token_wrong_secret "$TMP/none" "$ISS/token" -u "$CLIENT:wrong" \
  --data-urlencode grant_type=authorization_code --data-urlencode "code=x" \
  --data-urlencode "redirect_uri=$REDIRECT" --data-urlencode "code_verifier=$VERIFIER"
check "a wrong client_secret is refused (401 invalid_client)" \
  bash -c '[ "$1" = 401 ] && grep -q invalid_client "$2"' _ "$STATUS" "$TMP/token_wrong_secret.b"

# 13. cancel on the login page -> error=access_denied at the redirect_uri
JAR="$TMP/jar3"
authorize "$JAR" auth_cancel 'openid'
req cancel "$JAR" "$(absolute "$LOC")/abort"
req resume_cancel "$JAR" "$LOC"
check "Cancel ends at $REDIRECT?error=access_denied" grep -q "^$REDIRECT?error=access_denied" <<<"$LOC"

# 14. PKCE is required
JAR="$TMP/jar4"
req no_pkce "$JAR" "$ISS/auth?client_id=$CLIENT&response_type=code&scope=openid&redirect_uri=$REDIRECT_ENC&state=xyz&nonce=n1"
check "missing code_challenge is refused (error=invalid_request at the redirect_uri)" \
  bash -c '[ "$1" = 303 ] && grep -q "^$2?error=invalid_request" <<<"$3" && grep -qi pkce <<<"$3"' _ "$STATUS" "$REDIRECT" "$LOC"
req plain_pkce "$JAR" "$ISS/auth?client_id=$CLIENT&response_type=code&scope=openid&redirect_uri=$REDIRECT_ENC&state=xyz&code_challenge=abcdefghijabcdefghijabcdefghijabcdefghij123&code_challenge_method=plain"
check "code_challenge_method=plain is refused" grep -q "error=invalid_request" <<<"$LOC"

# 15. a wrong redirect_uri is refused without redirecting
req wrong_redirect "$JAR" "$ISS/auth?client_id=$CLIENT&response_type=code&scope=openid&redirect_uri=https%3A%2F%2Fevil.invalid%2Fcb&state=xyz&code_challenge=abcdefghijabcdefghijabcdefghijabcdefghij123&code_challenge_method=S256"
check "wrong redirect_uri is refused with 400 invalid_redirect_uri and no Location" \
  bash -c '[ "$1" = 400 ] && [ -z "$2" ] && grep -q invalid_redirect_uri "$3"' _ "$STATUS" "$LOC" "$TMP/wrong_redirect.b"
req unknown_client "$JAR" "$ISS/auth?client_id=nobody&response_type=code&scope=openid&redirect_uri=$REDIRECT_ENC&code_challenge=abcdefghijabcdefghijabcdefghijabcdefghij123&code_challenge_method=S256"
check "unknown client_id is refused with 400" [ "$STATUS" = 400 ]

echo "smoke: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
