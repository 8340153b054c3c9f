// An OpenID provider nobody on the Tessera team wrote: panva's oidc-provider (OpenID Certified),
// on 127.0.0.1 at a free port, for tests/integration/test_oidc_interop.py.
//
//   node issuer.mjs        -> prints one JSON line {"issuer": "http://127.0.0.1:PORT", "clients": [...]}
//
// Its signing keys are made here at start (RSA 2048 and EC P-256, from node:crypto); one client
// per ID token algorithm (RS256, PS256, ES256), each with the authorization code flow and a
// client secret. Sign-in and consent are oidc-provider's own development interactions (any login
// is accepted): the test drives them over HTTP like a browser, then redeems the code at the token
// endpoint for a real ID token. Stops on SIGTERM or when its standard input closes.
import http from 'node:http';
import { generateKeyPairSync } from 'node:crypto';

import Provider from 'oidc-provider';

const ALGS = ['RS256', 'PS256', 'ES256'];
const REDIRECT = 'http://127.0.0.1/callback';

function jwk(keyPair, kid) {
  return { ...keyPair.privateKey.export({ format: 'jwk' }), kid, use: 'sig' };
}

const keys = [
  jwk(generateKeyPairSync('rsa', { modulusLength: 2048 }), 'interop-rsa'),
  jwk(generateKeyPairSync('ec', { namedCurve: 'P-256' }), 'interop-ec'),
];

const clients = ALGS.map((alg) => ({
  client_id: `tessera-${alg.toLowerCase()}`,
  client_secret: `secret-of-${alg.toLowerCase()}-client-0123456789`,
  redirect_uris: [REDIRECT],
  grant_types: ['authorization_code'],
  response_types: ['code'],
  id_token_signed_response_alg: alg,
}));

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients,
    jwks: { keys },
    pkce: { required: () => false },
    features: { devInteractions: { enabled: true } },
    claims: { openid: ['sub'], email: ['email'] },
    findAccount: async (ctx, id) => ({
      accountId: id,
      claims: async () => ({ sub: id, email: `${id}@example.test` }),
    }),
  });
  server.on('request', provider.callback());
  process.stdout.write(`${JSON.stringify({ issuer, redirect_uri: REDIRECT, clients })}\n`);
});

process.on('SIGTERM', () => process.exit(0));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
