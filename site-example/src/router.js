// A small client-side router: History API navigation, a table of routes, and a not-found
// view. Links marked data-link navigate without a page load.

export function createRouter(routes, notFound, render) {
  function resolve(path) {
    const clean = path.replace(/\/+$/, "") || "/";
    const route = routes.find((r) => r.path === clean);
    return route ? route.view : notFound;
  }

  function go(path, push) {
    if (push) history.pushState({}, "", path);
    render(resolve(location.pathname));
  }

  document.addEventListener("click", (event) => {
    const link = event.target.closest("a[data-link]");
    if (!link || event.metaKey || event.ctrlKey || event.shiftKey) return;
    event.preventDefault();
    go(link.getAttribute("href"), true);
  });
  window.addEventListener("popstate", () => go(location.pathname, false));

  return { start: () => go(location.pathname, false), resolve };
}
