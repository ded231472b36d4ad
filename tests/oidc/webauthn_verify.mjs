// A second WebAuthn verifier for the browser tests (tests/browser/test_webauthn.py):
// @simplewebauthn/server checks the very response a real Chromium (its virtual authenticator)
// gave, which the test also posts to Gatehouse, so both verifiers must agree.
//
// stdin: one JSON object
//   {"ceremony": "registration" | "authentication",
//    "response": <credential.toJSON()>,
//    "expectedChallenge": "<base64url>", "expectedOrigin": "<origin>", "expectedRPID": "<rp id>",
//    "requireUserVerification": true | false,
//    "credential": {"id": "<base64url>", "publicKey": "<base64url COSE key>", "counter": 0}}
//    (credential: authentication only; what a registration printed)
// stdout: one JSON object
//   {"verified": bool, "error"?: str, "credentialId"?, "publicKey"? (base64url COSE),
//    "counter"?, "fmt"?, "backedUp"?, "deviceType"?, "userVerified"?, "aaguid"?, "origin"?,
//    "rpID"?}
// It exits 0 whether or not the response verified (the test asserts on "verified"); only a
// broken input (not JSON, an unknown ceremony) exits 2.
import { verifyAuthenticationResponse, verifyRegistrationResponse } from '@simplewebauthn/server';

const b64url = (bytes) => Buffer.from(bytes).toString('base64url');

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function print(result) {
  process.stdout.write(JSON.stringify(result) + '\n');
}

async function registration(input) {
  const result = await verifyRegistrationResponse({
    response: input.response,
    expectedChallenge: input.expectedChallenge,
    expectedOrigin: input.expectedOrigin,
    expectedRPID: input.expectedRPID,
    requireUserVerification: input.requireUserVerification ?? true,
  });
  if (!result.verified) return { verified: false, error: 'not verified' };
  const info = result.registrationInfo;
  return {
    verified: true,
    credentialId: info.credential.id,
    publicKey: b64url(info.credential.publicKey),
    counter: info.credential.counter,
    fmt: info.fmt,
    aaguid: info.aaguid,
    userVerified: info.userVerified,
    backedUp: info.credentialBackedUp,
    deviceType: info.credentialDeviceType,
    origin: info.origin,
    rpID: info.rpID,
  };
}

async function authentication(input) {
  const cred = input.credential;
  if (!cred || typeof cred.id !== 'string' || typeof cred.publicKey !== 'string') {
    throw new Error('authentication needs "credential": {"id", "publicKey", "counter"}');
  }
  const result = await verifyAuthenticationResponse({
    response: input.response,
    expectedChallenge: input.expectedChallenge,
    expectedOrigin: input.expectedOrigin,
    expectedRPID: input.expectedRPID,
    requireUserVerification: input.requireUserVerification ?? true,
    credential: {
      id: cred.id,
      publicKey: new Uint8Array(Buffer.from(cred.publicKey, 'base64url')),
      counter: Number(cred.counter ?? 0),
    },
  });
  const info = result.authenticationInfo ?? {};
  const out = {
    verified: Boolean(result.verified),
    credentialId: info.credentialID,
    counter: info.newCounter,
    userVerified: info.userVerified,
    backedUp: info.credentialBackedUp,
    deviceType: info.credentialDeviceType,
    origin: info.origin,
    rpID: info.rpID,
  };
  if (!out.verified) out.error = 'not verified';
  return out;
}

const CEREMONIES = { registration, authentication };

let input;
try {
  input = JSON.parse(await readStdin());
} catch (e) {
  print({ verified: false, error: `stdin is not JSON: ${e.message}` });
  process.exit(2);
}
const ceremony = CEREMONIES[input?.ceremony];
if (!ceremony) {
  print({ verified: false, error: `unknown ceremony ${JSON.stringify(input?.ceremony)}` });
  process.exit(2);
}
try {
  print(await ceremony(input));
} catch (e) {
  // simplewebauthn throws for every refusal (wrong origin, challenge, signature, counter, ...):
  // that is an answer, not a failure of this script.
  print({ verified: false, error: String(e?.message ?? e) });
}
