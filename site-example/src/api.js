// The API and the user pool, as the deployed site's runtime configuration names them:
// shipit writes /shipit-config.json with the stack's values when it deploys (the API's URL,
// the region, the user pool's app client, Cognito's sign-in endpoint and the release), so one
// build serves any stack. A <meta name="shipit-config"> in index.html names another path.

export const config = { api: "", clientId: "", signIn: "", region: "", release: "", error: "" };

// Read once, before the first view: resolves even when the file is missing (config.error
// says why, and the views that need the API show it).
export async function loadConfig() {
  const path = document.querySelector('meta[name="shipit-config"]')?.content || "/shipit-config.json";
  try {
    const r = await fetch(path, { cache: "no-cache" });
    if (!r.ok) throw new Error(`${path} answered ${r.status}`);
    const c = await r.json();
    Object.assign(config, {
      api: (c.apiUrl || "").replace(/\/$/, ""),
      clientId: c.userPoolClientId || "",
      signIn: c.cognitoUrl || "",
      region: c.region || "",
      release: c.release || "",
    });
  } catch (e) {
    config.error = `no runtime configuration (${e.message}): shipit writes it when it deploys the site to a stack`;
  }
}

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
  if (!config.clientId || !config.signIn) throw new Error(config.error || "the stack has no user pool");
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
  if (!config.api) throw new Error(config.error || "the stack has no API");
  const r = await fetch(config.api + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (r.headers.get("content-type") || "").includes("json");
  return { status: r.status, json, body: json ? await r.json().catch(() => ({})) : null };
}
