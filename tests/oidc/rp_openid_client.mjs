// A relying party built on openid-client 6 (panva, OpenID certified RP) against a running
// Gatehouse: discovery, the code flow with PKCE S256, state and nonce through the portal, the
// library's own code exchange and ID token validation (signature included: non-repudiation
// checks), RFC 9207 iss, userinfo, introspection, refresh, prompt=none, RP-initiated logout,
// revocation and client credentials. Settings from the environment (rp_portal.mjs settings());
// prints a JSON summary, exits 1 on any failure.
//   GH_ISSUER=http://127.0.0.1:8000 GH_CLIENT_ID=... node rp_openid_client.mjs
import * as client from 'openid-client';

import { Browser, check, formActionAllows, run, settings } from './rp_portal.mjs';

const s = settings();

await run('openid-client', async (record) => {
  const auth = s.clientAuth === 'client_secret_post'
    ? client.ClientSecretPost(s.clientSecret) : client.ClientSecretBasic(s.clientSecret);
  // The server is on http://127.0.0.1 (loopback): the library's documented switch for tests.
  const config = await client.discovery(new URL(s.issuer), s.clientId,
    { client_secret: s.clientSecret, id_token_signed_response_alg: 'RS256' }, auth,
    { execute: [client.allowInsecureRequests] });
  client.enableNonRepudiationChecks(config); // the ID token's signature against the JWKS too
  const meta = config.serverMetadata();
  check(meta.issuer === s.issuer, `issuer ${meta.issuer}`);
  check(meta.authorization_response_iss_parameter_supported === true, 'RFC 9207 advertised');
  record('discovery', { issuer: meta.issuer });

  const browser = new Browser(s.issuer);

  // --- the code flow -----------------------------------------------------------------------
  async function authorize(extra, person) {
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: s.redirectUri,
      scope: 'openid profile email offline_access',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
      ...extra,
    });
    const back = await browser.follow(url.href, { ...person, stopAt: s.redirectUri });
    check(back.url.startsWith(s.redirectUri + '?'), `back at the redirect URI: ${back.url}`);
    return { back, verifier, state, nonce };
  }
  async function exchange({ back, verifier, state, nonce }, maxAge) {
    return client.authorizationCodeGrant(config, new URL(back.url), {
      pkceCodeVerifier: verifier,
      expectedState: state,
      expectedNonce: nonce,
      idTokenExpected: true,
      maxAge, // with max_age the library requires auth_time and checks it
    });
  }

  const first = await authorize({}, { username: s.username, password: s.password });
  const shown = first.back.pages.map((p) => p.page);
  check(JSON.stringify(shown) === '["login","consent"]', `sign-in then consent: ${shown}`);
  const consentCsp = first.back.pages[1].csp;
  check(formActionAllows(consentCsp, s.redirectUri),
    `the consent page's form-action allows the client: ${consentCsp}`);
  const returned = new URL(first.back.url).searchParams;
  check(returned.get('iss') === s.issuer, `iss in the authorization response: ${first.back.url}`);
  record('authorize', { pages: shown, redirect_status: first.back.status });

  const tokens = await exchange(first);
  const claims = tokens.claims();
  check(claims.iss === s.issuer, `iss ${claims.iss}`);
  check(claims.aud === s.clientId || (Array.isArray(claims.aud) && claims.aud.includes(s.clientId)),
    `aud ${claims.aud}`);
  check(claims.nonce === first.nonce, 'nonce');
  check(typeof claims.auth_time === 'number', 'auth_time');
  check(tokens.token_type.toLowerCase() === 'bearer', `token_type ${tokens.token_type}`);
  check(tokens.refresh_token, 'a refresh token for offline_access');
  check(tokens.expiresIn() > 0, 'expires_in');
  record('code_exchange', {
    id_token_claims: Object.keys(claims).sort(),
    sub: claims.sub,
    scope: tokens.scope,
  });

  // --- userinfo and introspection ---------------------------------------------------------------
  const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  check(info.sub === claims.sub, 'userinfo sub');
  check(info.preferred_username === s.username, `preferred_username ${info.preferred_username}`);
  check(typeof info.email === 'string' && info.email.includes('@'), `email ${info.email}`);
  record('userinfo', { claims: Object.keys(info).sort() });

  const intro = await client.tokenIntrospection(config, tokens.access_token);
  check(intro.active === true && intro.client_id === s.clientId && intro.sub === claims.sub,
    `introspection ${JSON.stringify(intro)}`);
  record('introspection', { active: intro.active });

  // --- prompt=none (and max_age) while signed in: no page, a code at once ---------------------------
  const silent = await authorize({ prompt: 'none', max_age: '600' }, {});
  check(silent.back.pages.length === 0, 'prompt=none shows no page');
  const silentTokens = await exchange(silent, 600);
  check(silentTokens.claims().sub === claims.sub, 'same subject');
  check(silentTokens.claims().auth_time === claims.auth_time, 'the same sign-in (auth_time)');
  record('prompt_none', { ok: true });

  // --- refresh --------------------------------------------------------------------------------
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  check(refreshed.access_token && refreshed.access_token !== tokens.access_token, 'a new access token');
  check(refreshed.refresh_token && refreshed.refresh_token !== tokens.refresh_token, 'rotated refresh token');
  const refreshedClaims = refreshed.claims();
  if (refreshedClaims) check(refreshedClaims.sub === claims.sub, 'refreshed ID token sub');
  const info2 = await client.fetchUserInfo(config, refreshed.access_token, claims.sub);
  check(info2.sub === claims.sub, 'userinfo with the refreshed token');
  record('refresh', { id_token: Boolean(refreshedClaims), scope: refreshed.scope });

  // --- RP-initiated logout --------------------------------------------------------------------
  const logoutState = client.randomState();
  const endSession = client.buildEndSessionUrl(config, {
    id_token_hint: refreshed.id_token ?? tokens.id_token,
    post_logout_redirect_uri: s.postLogoutRedirectUri,
    state: logoutState,
  });
  const out = await browser.follow(endSession.href, { stopAt: s.postLogoutRedirectUri });
  check(out.pages.length === 0, 'no confirmation page with a valid id_token_hint');
  const outUrl = new URL(out.url);
  check(out.url.startsWith(s.postLogoutRedirectUri) && outUrl.searchParams.get('state') === logoutState,
    `back at the post-logout URI with state: ${out.url}`);
  record('logout', { redirect: out.url.split('?')[0] });

  // The portal session is over: prompt=none is now login_required, an error the library reads
  // (and checks iss of) from the redirect.
  const after = await authorize({ prompt: 'none' }, {});
  let refused;
  try {
    await exchange(after);
  } catch (e) {
    refused = e;
  }
  check(refused instanceof client.AuthorizationResponseError, `an authorization error: ${refused}`);
  check(refused.error === 'login_required', `login_required: ${refused.error}`);
  record('after_logout', { error: refused.error });

  // --- revocation (RFC 7009) ------------------------------------------------------------------
  await client.tokenRevocation(config, refreshed.access_token, { token_type_hint: 'access_token' });
  const gone = await client.tokenIntrospection(config, refreshed.access_token);
  check(gone.active === false, `revoked access token inactive: ${JSON.stringify(gone)}`);
  await client.tokenRevocation(config, refreshed.refresh_token, { token_type_hint: 'refresh_token' });
  let invalid;
  try {
    await client.refreshTokenGrant(config, refreshed.refresh_token);
  } catch (e) {
    invalid = e;
  }
  check(invalid instanceof client.ResponseBodyError && invalid.error === 'invalid_grant',
    `the revoked refresh token refused: ${invalid}`);
  record('revocation', { access_active: gone.active, refresh_error: invalid.error });

  // --- client credentials ----------------------------------------------------------------------
  const machine = await client.clientCredentialsGrant(config, {});
  check(machine.access_token && !machine.id_token && !machine.refresh_token,
    'an access token alone');
  const machineIntro = await client.tokenIntrospection(config, machine.access_token);
  check(machineIntro.active === true && machineIntro.client_id === s.clientId,
    `introspection ${JSON.stringify(machineIntro)}`);
  record('client_credentials', { scope: machine.scope, sub: machineIntro.sub });
});
