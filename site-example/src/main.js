import "@fontsource/inter/latin-400.css";
import "@fontsource/inter/latin-700.css";
import "./style.css";
import logo from "./assets/logo.svg";
import { loadConfig } from "./api.js";
import { createRouter } from "./router.js";
import * as views from "./views/index.js";

document.getElementById("logo").src = logo;

const routes = [
  { path: "/", view: views.home },
  { path: "/about", view: views.about },
  { path: "/docs/getting-started", view: views.gettingStarted },
  { path: "/settings/profile", view: views.settingsProfile },
  { path: "/status", view: views.status },
  { path: "/account", view: views.account },
  { path: "/items", view: views.items },
];

const app = document.getElementById("app");
const router = createRouter(routes, views.notFound, (view) => {
  app.replaceChildren(view());
  document.title = `${app.querySelector("h1").textContent} · shipit example`;
  document.body.dataset.route = location.pathname;
});
// The runtime configuration first: the views that call the API read it.
loadConfig().then(() => router.start());
