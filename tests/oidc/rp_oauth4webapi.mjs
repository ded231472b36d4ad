// A relying party built on oauth4webapi 3 (panva, OpenID certified, the strictest of the JS
// clients) against a running Gatehouse: discovery (algorithm "oidc"), the code flow with PKCE
// S256, state and nonce through the portal, validateAuthResponse (RFC 9207 iss), the library's
// code exchange and ID token validation, the ID token's RS256 signature checked against the JWKS
// with WebCrypto, the access token checked as a resource server would (validateJwtAccessToken,
// RFC 9068), userinfo, introspection, refresh, RP-initiated logout, revocation and client
// credentials. Settings from the environment (rp_portal.mjs settings()); prints a JSON summary,
// exits 1 on any failure.
import * as oauth from 'oauth4webapi';

import { Browser, check, formActionAllows, run, settings } from './rp_portal.mjs';

const s = settings();
// The server is on http://127.0.0.1 (loopback): the library's documented switch for tests.
const insecure = { [oauth.allowInsecureRequests]: true };

const b64url = (text) => Buffer.from(text, 'base64url');

await run('oauth4webapi', async (record) => {
  const issuer = new URL(s.issuer);
  const as = await oauth.processDiscoveryResponse(
    issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oidc', ...insecure }));
  check(as.issuer === s.issuer, `issuer ${as.issuer}`);
  record('discovery', { issuer: as.issuer });
  const client = { client_id: s.clientId, id_token_signed_response_alg: 'RS256' };
  const clientAuth = s.clientAuth === 'client_secret_post'
    ? oauth.ClientSecretPost(s.clientSecret) : oauth.ClientSecretBasic(s.clientSecret);

  // The JWKS and an RS256 signature check for ID tokens (the library leaves the signature of an
  // ID token from the token endpoint to the application).
  const jwks = await (await fetch(as.jwks_uri)).json();
  async function verifySignature(jwt) {
    const [h, p, sig] = jwt.split('.');
    const header = JSON.parse(b64url(h).toString());
    check(header.alg === 'RS256', `ID token alg ${header.alg}`);
    const jwk = jwks.keys.find((k) => k.kid === header.kid);
    check(jwk, `the ID token's kid ${header.kid} is in the JWKS`);
    const key = await crypto.subtle.importKey('jwk', jwk, { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
      false, ['verify']);
    const ok = await crypto.subtle.verify('RSASSA-PKCS1-v1_5', key, b64url(sig), Buffer.from(`${h}.${p}`));
    check(ok, 'the ID token signature verifies against the JWKS');
    return header;
  }

  const browser = new Browser(s.issuer);

  async function authorize(extra, person) {
    const verifier = oauth.generateRandomCodeVerifier();
    const state = oauth.generateRandomState();
    const nonce = oauth.generateRandomNonce();
    const url = new URL(as.authorization_endpoint);
    const params = {
      client_id: s.clientId,
      redirect_uri: s.redirectUri,
      response_type: 'code',
      scope: 'openid profile email offline_access',
      code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
      ...extra,
    };
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    const back = await browser.follow(url.href, { ...person, stopAt: s.redirectUri });
    check(back.url.startsWith(s.redirectUri + '?'), `back at the redirect URI: ${back.url}`);
    return { back, verifier, state, nonce };
  }
  async function exchange({ back, verifier, state, nonce }) {
    // Checks state and iss (RFC 9207: as.authorization_response_iss_parameter_supported).
    const params = oauth.validateAuthResponse(as, client, new URL(back.url), state);
    const response = await oauth.authorizationCodeGrantRequest(as, client, clientAuth, params,
      s.redirectUri, verifier, insecure);
    return oauth.processAuthorizationCodeResponse(as, client, response,
      { expectedNonce: nonce, requireIdToken: true });
  }

  // --- the code flow -----------------------------------------------------------------------
  const first = await authorize({}, { username: s.username, password: s.password });
  const shown = first.back.pages.map((p) => p.page);
  check(JSON.stringify(shown) === '["login","consent"]', `sign-in then consent: ${shown}`);
  const consentCsp = first.back.pages[1].csp;
  check(formActionAllows(consentCsp, s.redirectUri),
    `the consent page's form-action allows the client: ${consentCsp}`);
  record('authorize', { pages: shown, redirect_status: first.back.status });

  const tokens = await exchange(first);
  const claims = oauth.getValidatedIdTokenClaims(tokens);
  const header = await verifySignature(tokens.id_token);
  check(claims.nonce === first.nonce, 'nonce');
  check(typeof claims.auth_time === 'number', 'auth_time');
  check(claims.at_hash, 'at_hash (the library checks it when present)');
  check(tokens.refresh_token, 'a refresh token for offline_access');
  record('code_exchange', { id_token_claims: Object.keys(claims).sort(), kid: header.kid, sub: claims.sub });

  // The access token, as a resource server checks it: RFC 9068 (typ at+jwt, iss, aud, exp,
  // sub, client_id, iat, jti) with the signature against the JWKS.
  const atClaims = await oauth.validateJwtAccessToken(as,
    new Request(`${s.issuer}/resource`, { headers: { authorization: `Bearer ${tokens.access_token}` } }),
    s.issuer, { ...insecure, signingAlgorithms: ['RS256'] });
  check(atClaims.client_id === s.clientId && atClaims.sub === claims.sub, 'access token claims');
  record('access_token_rfc9068', { claims: Object.keys(atClaims).sort() });

  // --- userinfo and introspection ---------------------------------------------------------------
  const info = await oauth.processUserInfoResponse(as, client, claims.sub,
    await oauth.userInfoRequest(as, client, tokens.access_token, insecure));
  check(info.preferred_username === s.username, `preferred_username ${info.preferred_username}`);
  check(typeof info.email === 'string', `email ${info.email}`);
  record('userinfo', { claims: Object.keys(info).sort() });

  const intro = await oauth.processIntrospectionResponse(as, client,
    await oauth.introspectionRequest(as, client, clientAuth, tokens.access_token, insecure));
  check(intro.active === true && intro.sub === claims.sub, `introspection ${JSON.stringify(intro)}`);
  record('introspection', { active: intro.active });

  // --- refresh --------------------------------------------------------------------------------
  const refreshed = await oauth.processRefreshTokenResponse(as, client,
    await oauth.refreshTokenGrantRequest(as, client, clientAuth, tokens.refresh_token, insecure));
  check(refreshed.access_token !== tokens.access_token, 'a new access token');
  check(refreshed.refresh_token && refreshed.refresh_token !== tokens.refresh_token, 'rotated refresh token');
  const refreshedClaims = oauth.getValidatedIdTokenClaims(refreshed);
  if (refreshedClaims) {
    await verifySignature(refreshed.id_token);
    check(refreshedClaims.sub === claims.sub, 'refreshed ID token sub');
  }
  const info2 = await oauth.processUserInfoResponse(as, client, claims.sub,
    await oauth.userInfoRequest(as, client, refreshed.access_token, insecure));
  check(info2.sub === claims.sub, 'userinfo with the refreshed token');
  record('refresh', { id_token: Boolean(refreshedClaims) });

  // --- RP-initiated logout --------------------------------------------------------------------
  const logoutState = oauth.generateRandomState();
  const end = new URL(as.end_session_endpoint);
  end.searchParams.set('id_token_hint', refreshed.id_token ?? tokens.id_token);
  end.searchParams.set('post_logout_redirect_uri', s.postLogoutRedirectUri);
  end.searchParams.set('state', logoutState);
  const out = await browser.follow(end.href, { stopAt: s.postLogoutRedirectUri });
  check(out.pages.length === 0, 'no confirmation page with a valid id_token_hint');
  check(new URL(out.url).searchParams.get('state') === logoutState, `state back: ${out.url}`);
  record('logout', { redirect: out.url.split('?')[0] });

  const after = await authorize({ prompt: 'none' }, {});
  let refused;
  try {
    oauth.validateAuthResponse(as, client, new URL(after.back.url), after.state);
  } catch (e) {
    refused = e;
  }
  check(refused instanceof oauth.AuthorizationResponseError && refused.error === 'login_required',
    `login_required after logout: ${refused}`);
  record('after_logout', { error: refused.error });

  // --- revocation -----------------------------------------------------------------------------
  await oauth.processRevocationResponse(
    await oauth.revocationRequest(as, client, clientAuth, refreshed.refresh_token, insecure));
  let invalid;
  try {
    await oauth.processRefreshTokenResponse(as, client,
      await oauth.refreshTokenGrantRequest(as, client, clientAuth, refreshed.refresh_token, insecure));
  } catch (e) {
    invalid = e;
  }
  check(invalid instanceof oauth.ResponseBodyError && invalid.error === 'invalid_grant',
    `the revoked refresh token refused: ${invalid}`);
  // Revoking the refresh token ends the grant (RFC 7009 §2.1): its access token too.
  const gone = await oauth.processIntrospectionResponse(as, client,
    await oauth.introspectionRequest(as, client, clientAuth, refreshed.access_token, insecure));
  check(gone.active === false, `the grant's access token inactive: ${JSON.stringify(gone)}`);
  record('revocation', { refresh_error: invalid.error, access_active: gone.active });

  // --- client credentials ----------------------------------------------------------------------
  const machine = await oauth.processClientCredentialsResponse(as, client,
    await oauth.clientCredentialsGrantRequest(as, client, clientAuth, {}, insecure));
  check(!machine.id_token && !machine.refresh_token, 'an access token alone');
  const machineClaims = await oauth.validateJwtAccessToken(as,
    new Request(`${s.issuer}/resource`, { headers: { authorization: `Bearer ${machine.access_token}` } }),
    s.issuer, insecure);
  check(machineClaims.sub === s.clientId && machineClaims.client_id === s.clientId,
    `RFC 9068 §2.2: sub is the client: ${JSON.stringify(machineClaims)}`);
  record('client_credentials', { scope: machine.scope });

  // --- a public client: no secret (token_endpoint_auth_method none), PKCE alone ----------------
  const publicId = process.env.GH_PUBLIC_CLIENT_ID;
  if (publicId) {
    const pub = { client_id: publicId, id_token_signed_response_alg: 'RS256' };
    const verifier = oauth.generateRandomCodeVerifier();
    const state = oauth.generateRandomState();
    const nonce = oauth.generateRandomNonce();
    const url = new URL(as.authorization_endpoint);
    for (const [k, v] of Object.entries({
      client_id: publicId, redirect_uri: s.redirectUri, response_type: 'code', scope: 'openid profile',
      code_challenge: await oauth.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
      state, nonce,
    })) url.searchParams.set(k, v);
    const back = await browser.follow(url.href, { username: s.username, password: s.password, stopAt: s.redirectUri });
    const params = oauth.validateAuthResponse(as, pub, new URL(back.url), state);
    const result = await oauth.processAuthorizationCodeResponse(as, pub,
      await oauth.authorizationCodeGrantRequest(as, pub, oauth.None(), params, s.redirectUri, verifier, insecure),
      { expectedNonce: nonce, requireIdToken: true });
    const pubClaims = oauth.getValidatedIdTokenClaims(result);
    await verifySignature(result.id_token);
    check(pubClaims.sub === claims.sub && pubClaims.aud === publicId, 'the public client\'s ID token');
    check(!result.refresh_token, 'no refresh token for a public client without that grant');
    const pubInfo = await oauth.processUserInfoResponse(as, pub, claims.sub,
      await oauth.userInfoRequest(as, pub, result.access_token, insecure));
    check(pubInfo.preferred_username === s.username && pubInfo.email === undefined,
      `scope profile only: ${JSON.stringify(pubInfo)}`);
    record('public_client', { pages: back.pages.map((p) => p.page), userinfo: Object.keys(pubInfo).sort() });
  }
});
