// One function per view: each returns the view's element. `data-view` names the view so a
// browser test can tell which one rendered.

import { call, config, session, signIn } from "../api.js";

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

function el(tag, props = {}, ...children) {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
}

// A client-side link (the router navigates without a page load).
function link(href, text) {
  const a = el("a", { href, textContent: text });
  a.dataset.link = "";
  return a;
}

// The API's liveness (GET /health); signed in, each data store as the deep check reports it.
export function status() {
  const section = view("status", "Status", []);
  const line = el("p", { id: "api-status", textContent: "Checking the API…" });
  const release = config.release ? `Release ${config.release}` : config.error;
  section.append(el("p", { id: "release", textContent: release }), line);
  call("/health", { anonymous: true })
    .then(({ status, json, body }) => {
      // A static host answers unknown paths with HTML (or the SPA shell): that is not an API.
      const healthy = status === 200 && json && body.ok !== false;
      line.textContent = healthy
        ? "API healthy"
        : json
          ? `API answered ${status}`
          : `No API at ${config.api} (answered ${status})`;
      line.dataset.state = healthy ? "ok" : "error";
    })
    .catch((e) => {
      line.textContent = "API unreachable: " + e.message;
      line.dataset.state = "unreachable";
    });
  if (!session.token()) {
    section.append(el("p", {}, link("/account", "Sign in"), " to see each data store."));
    return section;
  }
  const stores = el("ul", { id: "stores" });
  section.append(stores);
  call("/health/deep").then(({ status, body }) => {
    stores.dataset.status = String(status);
    for (const [name, state] of Object.entries((body && body.stores) || {})) {
      const healthy = state === "ok" || state === "not configured";
      const item = el("li", { textContent: `${name}: ${state}` });
      item.dataset.store = name;
      item.dataset.state = healthy ? "ok" : "error";
      stores.append(item);
    }
  });
  return section;
}

// Sign in with the user pool (an administrator creates users unless the stack allows sign-up).
export function account() {
  const section = view("account", "Account", []);
  const who = el("p", { id: "who" });
  const user = session.user();
  if (user) {
    who.textContent = `Signed in as ${user.email || user["cognito:username"]}`;
    const out = el("button", { type: "button", textContent: "Sign out" });
    out.addEventListener("click", () => {
      session.signOut();
      section.replaceWith(account());
    });
    section.append(who, out);
    return section;
  }
  const email = el("input", { name: "email", type: "email", autocomplete: "username", required: true });
  const password = el("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
  const form = el(
    "form",
    { id: "sign-in" },
    el("label", {}, "Email ", email),
    el("label", {}, "Password ", password),
    el("button", { type: "submit", textContent: "Sign in" }),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    who.textContent = "Signing in…";
    try {
      await signIn(email.value, password.value);
      section.replaceWith(account());
    } catch (e) {
      who.textContent = e.message;
      who.dataset.state = "error";
    }
  });
  section.append(form, who);
  return section;
}

// The signed-in user's items: listed, and added with a name.
export function items() {
  const section = view("items", "Items", []);
  if (!session.token()) {
    section.append(el("p", {}, link("/account", "Sign in"), " to keep items."));
    return section;
  }
  const list = el("ul", { id: "item-list" });
  const note = el("p", { id: "items-note" });
  const refresh = async () => {
    const { status, body } = await call("/items");
    if (status !== 200) {
      note.textContent = `The API answered ${status}`;
      return;
    }
    list.replaceChildren(...body.map((item) => el("li", { textContent: item.name || item.id })));
    list.dataset.count = String(body.length);
  };
  const name = el("input", { name: "name", required: true, maxLength: 100 });
  const form = el("form", { id: "add-item" }, el("label", {}, "Name ", name), el("button", { type: "submit", textContent: "Add" }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const { status } = await call("/items", { method: "POST", body: { name: name.value } });
    note.textContent = status === 201 ? `Added ${name.value}` : `The API answered ${status}`;
    name.value = "";
    await refresh();
  });
  section.append(form, note, list);
  refresh();
  return section;
}
