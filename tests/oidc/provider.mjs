// A real OpenID provider for the end-to-end tests: panva/oidc-provider over HTTPS on loopback,
// with one confidential client (gatehouse) and test accounts. Its development login form accepts
// any password; the login name picks the account.
//   node provider.mjs <port> <cert.pem> <key.pem> <gatehouse callback URL>
import fs from 'node:fs';
import https from 'node:https';
import Provider from 'oidc-provider';

const [port, certFile, keyFile, callback] = process.argv.slice(2);
const issuer = `https://127.0.0.1:${port}`;

const accounts = {
  alice: { email: 'alice@example.com', email_verified: true, preferred_username: 'alice' },
  bob: { email: 'bob@example.com', email_verified: false, preferred_username: 'bob' },
  carol: { email: 'carol@example.com', email_verified: true, preferred_username: 'carol' },
};

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'gatehouse',
    client_secret: 'gatehouse-test-secret-0123456789',
    redirect_uris: [callback],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  async findAccount(ctx, id) {
    const claims = accounts[id] ?? { email: `${id}@example.org`, email_verified: true, preferred_username: id };
    return { accountId: id, async claims() { return { sub: id, ...claims }; } };
  },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['preferred_username'] },
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: true } },
  pkce: { required: () => true },
  cookies: { keys: ['gatehouse-test-cookie-key-0123456789'] },
  ttl: { AccessToken: 300, AuthorizationCode: 60, IdToken: 300, Interaction: 600, Session: 600, Grant: 600 },
});
provider.on('server_error', (ctx, err) => console.error('server_error', err));

https.createServer({ cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile) }, provider.callback())
  .listen(Number(port), '127.0.0.1', () => console.log(`oidc-provider listening on ${issuer}`));
