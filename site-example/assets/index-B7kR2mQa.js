// A tiny client-side router: the placeholder for the real example app.
const views = {
  "/": "<h1>Home</h1><p>Deployed by shipit.</p>",
  "/about": "<h1>About</h1><p>A static front end on S3 and CloudFront.</p>",
  "/docs/getting-started": "<h1>Getting started</h1><p>Run <code>shipit deploy ./dist</code>.</p>",
};
function render() {
  const path = location.pathname.replace(/\/$/, "") || "/";
  document.getElementById("app").innerHTML = views[path] ?? "<h1>Not found</h1>";
}
document.addEventListener("click", (e) => {
  const a = e.target.closest("a");
  if (a && a.origin === location.origin) {
    e.preventDefault();
    history.pushState(null, "", a.pathname);
    render();
  }
});
window.addEventListener("popstate", render);
render();
