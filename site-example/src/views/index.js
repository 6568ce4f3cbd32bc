// One function per view: each returns the view's element. `data-view` names the view so a
// browser test can tell which one rendered.

function view(name, title, body) {
  const section = document.createElement("section");
  section.dataset.view = name;
  const h1 = document.createElement("h1");
  h1.textContent = title;
  section.append(h1);
  for (const text of body) {
    const p = document.createElement("p");
    p.textContent = text;
    section.append(p);
  }
  return section;
}

export const home = () =>
  view("home", "Deployed by shipit", [
    "This page, its script and its stylesheet came from S3 through CloudFront.",
    "Every link above is a client-side route: reload any of them and the SPA shell answers.",
  ]);

export const about = () =>
  view("about", "About", [
    "shipit deploys a static build by content hash, invalidates only what changed and verifies the live site before it deletes anything.",
  ]);

export const gettingStarted = () =>
  view("docs", "Getting started", [
    "npm run build",
    "shipit deploy ./dist --stack my-site",
    "shipit verify --stack my-site",
  ]);

export const settingsProfile = () =>
  view("settings-profile", "Settings: profile", [
    "A route two segments deep, served by the SPA fallback.",
  ]);

export const notFound = () =>
  view("not-found", "Page not found", ["No route matches " + location.pathname + "."]);

// Calls the API's /health (the API's base URL is a <meta name="api-url"> in a custom
// index.html, VITE_API_URL at build time, or /api on the same origin).
export function status() {
  const section = view("status", "Status", []);
  const line = document.createElement("p");
  line.id = "api-status";
  line.textContent = "Checking the API…";
  section.append(line);
  const meta = document.querySelector('meta[name="api-url"]');
  const base = (meta && meta.content) || import.meta.env.VITE_API_URL || "/api";
  fetch(base.replace(/\/$/, "") + "/health", { headers: { accept: "application/json" } })
    .then(async (r) => {
      // A static host answers unknown paths with HTML (or the SPA shell): that is not an API.
      const json = (r.headers.get("content-type") || "").includes("json");
      const body = json ? await r.json().catch(() => ({})) : {};
      const healthy = r.ok && json && body.ok !== false;
      line.textContent = healthy
        ? "API healthy"
        : json
          ? `API answered ${r.status}`
          : `No API at ${base} (answered ${r.status} ${r.headers.get("content-type") || ""})`;
      line.dataset.state = healthy ? "ok" : "error";
      if (body.stores) line.title = JSON.stringify(body.stores);
    })
    .catch((e) => {
      line.textContent = "API unreachable: " + e.message;
      line.dataset.state = "unreachable";
    });
  return section;
}
