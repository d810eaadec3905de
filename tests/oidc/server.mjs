// A real OpenID Connect provider (panva's oidc-provider) for OpsDeck's Rust integration tests and
// the end-to-end tests of the desktop app's sign-in window. Test-only: fixed secrets, in-memory
// storage, any login name signs in without a password.
//
//   node tests/oidc/server.mjs --port N     (or PORT=N; 0 or nothing picks a free port)
//
// Listens on 127.0.0.1 only, with the issuer http://127.0.0.1:N (no trailing slash), and prints
// exactly one line, "listening http://127.0.0.1:N", to stdout once it answers requests.
// scripts/lib.sh's start_oidc runs it for scripts/test.sh; see README.md beside this file for the
// client configuration and the request sequence a non-browser client makes.

import { generateKeyPairSync, randomUUID } from 'node:crypto';
import * as http from 'node:http';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

const { values: args } = parseArgs({
  options: { port: { type: 'string' } },
});
const HOST = '127.0.0.1';
const REQUESTED_PORT = Number(args.port ?? process.env.PORT ?? 0);
if (!Number.isInteger(REQUESTED_PORT) || REQUESTED_PORT < 0 || REQUESTED_PORT > 65535) {
  console.error(`invalid port: ${args.port ?? process.env.PORT}`);
  process.exit(2);
}

const REDIRECT_URI = 'https://opsdeck.invalid/oauth/callback/oidc';
const CLIENT_SECRET = 'opsdeck-test-secret';
const SCOPES = ['openid', 'profile', 'email', 'phone', 'offline_access'];
const TITLE = 'OpsDeck test OIDC provider';

const clientBase = {
  client_secret: CLIENT_SECRET,
  redirect_uris: [REDIRECT_URI],
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
};
const clients = [
  { ...clientBase, client_id: 'opsdeck-test', token_endpoint_auth_method: 'client_secret_basic' },
  { ...clientBase, client_id: 'opsdeck-test-post', token_endpoint_auth_method: 'client_secret_post' },
];

// Any login name is an account: sub = the login name (trimmed).
function accountClaims(login) {
  const display = login.charAt(0).toUpperCase() + login.slice(1);
  const claims = {
    sub: login,
    name: display,
    nickname: display,
    picture: `https://opsdeck.invalid/avatars/${encodeURIComponent(login)}.png`,
    email: `${login}@example.test`,
    email_verified: true,
  };
  if (login === 'alice') {
    claims.phone_number = '+8613800000001';
    claims.phone_number_verified = true;
  }
  // bob claims alice's number without having verified it: a client must not trust it.
  if (login === 'bob') {
    claims.phone_number = '+8613800000001';
    claims.phone_number_verified = false;
  }
  return claims;
}

async function findAccount(_ctx, sub) {
  return {
    accountId: sub,
    // oidc-provider filters these by the granted scopes and claims.
    async claims() {
      return accountClaims(sub);
    },
  };
}

function signingKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg: 'RS256', use: 'sig' };
}

function configuration() {
  return {
    clients,
    findAccount,
    jwks: { keys: [signingKey()] },
    scopes: SCOPES,
    responseTypes: ['code'],
    claims: {
      openid: ['sub'],
      profile: ['name', 'nickname', 'picture'],
      email: ['email', 'email_verified'],
      phone: ['phone_number', 'phone_number_verified'],
    },
    // Put the scope's claims in the ID token too (not only at /me), as most real providers do.
    conformIdTokenClaims: false,
    pkce: { required: () => true }, // oidc-provider 9 only knows S256
    cookies: {
      keys: ['opsdeck-test-oidc-cookie-key-not-a-secret'],
      // No `secure` flag: the issuer is plain http on 127.0.0.1 (koa sets none unless https).
    },
    features: {
      devInteractions: { enabled: false },
      revocation: { enabled: true },
      introspection: { enabled: true },
    },
    interactions: { url: async (_ctx, interaction) => `/interaction/${interaction.uid}` },
    ttl: {
      AccessToken: 3600,
      IdToken: 3600,
      AuthorizationCode: 600,
      RefreshToken: 24 * 3600,
      Interaction: 3600,
      Session: 24 * 3600,
      Grant: 24 * 3600,
    },
    clientBasedCORS: () => true,
    renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = page('Error', `<h1>Error</h1>${Object.entries(out)
        .map(([k, v]) => `<p><strong>${esc(k)}</strong>: <span class="${esc(k)}">${esc(v)}</span></p>`)
        .join('')}`);
    },
  };
}

function esc(value) {
  return String(value)
    .replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;').replaceAll("'", '&#39;');
}

function page(heading, body) {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${TITLE}</title>
<style>body{font-family:sans-serif;max-width:24rem;margin:3rem auto}label,input,button{display:block;margin:.5rem 0}.error{color:#b00}</style>
</head>
<body>
<p>${TITLE} — ${esc(heading)}</p>
${body}
</body>
</html>
`;
}

function loginPage(uid, details, { error, login } = {}) {
  const { params } = details;
  const value = login ?? params.login_hint ?? '';
  return page('Sign in', `<h1>Sign in to ${esc(params.client_id)}</h1>
${error ? `<p id="error" class="error">${esc(error)}</p>` : ''}
<form id="login-form" method="post" action="/interaction/${esc(uid)}/login" autocomplete="off">
<label for="login">Login name</label>
<input id="login" name="login" type="text" value="${esc(value)}" autofocus>
<button id="submit" type="submit">Sign in</button>
</form>
<p><a id="cancel" href="/interaction/${esc(uid)}/abort">Cancel</a></p>
<p>Requested scopes: <span id="scopes">${esc(params.scope ?? '')}</span></p>`);
}

function send(res, status, html) {
  res.writeHead(status, {
    'Content-Type': 'text/html; charset=utf-8',
    'Cache-Control': 'no-store',
    'Content-Length': Buffer.byteLength(html),
  });
  res.end(html);
}

async function readForm(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 65536) throw new Error('request body too large');
  }
  return new URLSearchParams(body);
}

// Login and consent in one step: a Grant with every requested scope and claim, so that the
// browser goes straight back to the client after a single form submit.
async function grantEverything(provider, details, accountId) {
  const { params, prompt } = details;
  let grant;
  if (details.grantId) {
    const existing = await provider.Grant.find(details.grantId);
    if (existing?.accountId === accountId) grant = existing;
  }
  grant ??= new provider.Grant({ accountId, clientId: params.client_id });

  const scopes = String(params.scope ?? '').split(' ').filter((s) => SCOPES.includes(s));
  if (scopes.length) grant.addOIDCScope(scopes.join(' '));
  if (params.claims) {
    const { userinfo = {}, id_token: idToken = {} } = JSON.parse(params.claims);
    const names = [...new Set([...Object.keys(userinfo), ...Object.keys(idToken)])];
    if (names.length) grant.addOIDCClaims(names);
  }
  for (const [indicator, rsScopes] of Object.entries(prompt.details?.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, rsScopes.join(' '));
  }
  return grant.save();
}

async function handleInteraction(provider, req, res, url) {
  const match = url.pathname.match(/^\/interaction\/([^/]+)(?:\/(login|abort))?\/?$/);
  if (!match) return send(res, 404, page('Not found', '<h1>Not found</h1>'));
  const [, uid, action] = match;

  let details;
  try {
    details = await provider.interactionDetails(req, res);
  } catch (err) {
    // SessionNotFound: no or an expired _interaction cookie for this uid.
    const message = err.error_description ?? err.message;
    return send(res, 400, page('Error', `<h1>Error</h1><p id="error" class="error">${esc(message)}</p>`));
  }
  if (details.uid !== uid) {
    return send(res, 400, page('Error', '<h1>Error</h1><p id="error" class="error">interaction mismatch</p>'));
  }

  if (action === 'abort' && req.method === 'GET') {
    return provider.interactionFinished(req, res, {
      error: 'access_denied',
      error_description: 'End-User aborted interaction',
    }, { mergeWithLastSubmission: false });
  }

  if (action === 'login' && req.method === 'POST') {
    const login = ((await readForm(req)).get('login') ?? '').trim();
    if (!login) return send(res, 400, loginPage(uid, details, { error: 'Enter a login name.', login }));
    const grantId = await grantEverything(provider, details, login);
    return provider.interactionFinished(req, res, {
      login: { accountId: login },
      consent: { grantId },
    }, { mergeWithLastSubmission: false });
  }

  if (!action && req.method === 'GET') {
    if (details.prompt.name === 'login') return send(res, 200, loginPage(uid, details));
    // Already signed in, only consent missing (new scopes, prompt=consent): grant it at once.
    const grantId = await grantEverything(provider, details, details.session.accountId);
    return provider.interactionFinished(req, res, { consent: { grantId } }, {
      mergeWithLastSubmission: true,
    });
  }

  res.writeHead(405, { Allow: action === 'login' ? 'POST' : 'GET' });
  return res.end();
}

let provider;
let oidcCallback;
const server = http.createServer((req, res) => {
  if (!provider) {
    res.writeHead(503);
    res.end();
    return;
  }
  const url = new URL(req.url, provider.issuer);
  if (url.pathname.startsWith('/interaction/')) {
    handleInteraction(provider, req, res, url).catch((err) => {
      console.error(err);
      if (!res.headersSent) send(res, 500, page('Error', `<h1>Error</h1><p id="error">${esc(err.message)}</p>`));
      else res.end();
    });
    return;
  }
  oidcCallback(req, res);
});

server.on('error', (err) => {
  console.error(`cannot listen on ${HOST}:${REQUESTED_PORT}: ${err.message}`);
  process.exit(1);
});

server.listen(REQUESTED_PORT, HOST, () => {
  const { port } = server.address();
  const issuer = `http://${HOST}:${port}`;
  provider = new Provider(issuer, configuration());
  provider.on('server_error', (_ctx, err) => console.error('server_error', err));
  oidcCallback = provider.callback();
  console.log(`listening ${issuer}`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  });
}
