// Run by tests/integration/test_openapi.py: the client @hey-api/openapi-ts generated from a live
// server's /openapi.json (in ./client, beside a copy of this file) registers a user, logs in with
// the OAuth2 password grant (a form body) and reads /api/v1/auth/me. Prints one JSON line.
// Arguments: base URL, email, username, password.
import { client } from './client/client.gen';
import { getApiV1AuthMe, postApiV1AuthLogin, postApiV1AuthRegister } from './client/sdk.gen';

declare const process: { argv: string[]; exitCode?: number };

async function main(): Promise<void> {
  const [baseUrl, email, username, password] = process.argv.slice(2);
  client.setConfig({ baseUrl });
  const registered = await postApiV1AuthRegister({
    body: { email, username, password },
    throwOnError: true,
  });
  const login = await postApiV1AuthLogin({
    body: { grant_type: 'password', username: email, password },
    throwOnError: true,
  });
  const token: string = login.data.access_token;
  const me = await getApiV1AuthMe({
    // The bearer scheme only: the generated client would put the token in every scheme it is given.
    auth: (scheme) => (scheme.scheme === 'bearer' ? token : undefined),
    throwOnError: true,
  });
  // Typed by the document: these fail to compile if its schemas lose the fields.
  const seen: { email: string; id: number; token_type: 'bearer' } = {
    email: me.data.email,
    id: me.data.id,
    token_type: login.data.token_type,
  };
  console.log(
    JSON.stringify({
      register: registered.response.status,
      login: login.response.status,
      seen,
      me: me.data,
    }),
  );
}

main().catch((error: unknown) => {
  console.error('generated client failed:', error);
  process.exitCode = 1;
});
