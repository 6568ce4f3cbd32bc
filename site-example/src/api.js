// The API and the user pool, as the build names them (VITE_* at build time; a <meta> in a
// custom index.html wins): the API's base URL, the user pool's app client, and the sign-in
// endpoint (Cognito's regional one unless VITE_COGNITO_URL names another, as the local cloud).

const meta = (name) => document.querySelector(`meta[name="${name}"]`)?.content;
const env = import.meta.env;

export const config = {
  api: (meta("api-url") || env.VITE_API_URL || "/api").replace(/\/$/, ""),
  clientId: meta("user-pool-client-id") || env.VITE_USER_POOL_CLIENT_ID || "",
  signIn:
    meta("cognito-url") ||
    env.VITE_COGNITO_URL ||
    `https://cognito-idp.${meta("region") || env.VITE_REGION || "us-east-1"}.amazonaws.com/`,
};

const TOKEN = "shipit-example-id-token";

export const session = {
  token: () => sessionStorage.getItem(TOKEN),
  user: () => {
    const t = sessionStorage.getItem(TOKEN);
    if (!t) return null;
    try {
      return JSON.parse(atob(t.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
    } catch {
      return null;
    }
  },
  signOut: () => sessionStorage.removeItem(TOKEN),
};

// USER_PASSWORD_AUTH against the user pool: the password goes to Cognito over TLS, the ID
// token comes back. Throws with Cognito's own message on a refusal.
export async function signIn(email, password) {
  if (!config.clientId) throw new Error("this build names no user pool client (VITE_USER_POOL_CLIENT_ID)");
  const r = await fetch(config.signIn, {
    method: "POST",
    headers: {
      "content-type": "application/x-amz-json-1.1",
      "x-amz-target": "AWSCognitoIdentityProviderService.InitiateAuth",
    },
    body: JSON.stringify({
      AuthFlow: "USER_PASSWORD_AUTH",
      ClientId: config.clientId,
      AuthParameters: { USERNAME: email, PASSWORD: password },
    }),
  });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.message || body.__type || `sign-in answered ${r.status}`);
  const token = body.AuthenticationResult?.IdToken;
  if (!token) throw new Error(`Cognito asks for ${body.ChallengeName || "more"} before signing in`);
  sessionStorage.setItem(TOKEN, token);
  return session.user();
}

// A call to the API: JSON in and out, the ID token when signed in (unless `anonymous`: a public
// route has no CORS preflight for an Authorization header). Resolves to { status, json, body }
// and never throws on an HTTP status.
export async function call(path, { method = "GET", body, anonymous = false } = {}) {
  const headers = { accept: "application/json" };
  if (session.token() && !anonymous) headers.authorization = session.token();
  if (body !== undefined) headers["content-type"] = "application/json";
  const r = await fetch(config.api + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (r.headers.get("content-type") || "").includes("json");
  return { status: r.status, json, body: json ? await r.json().catch(() => ({})) : null };
}
