// The token both pages use: taken from the link's fragment (`#token=…`,
// which `serve --demo` prints), kept in this tab's session storage, and never
// sent anywhere but this server.
"use strict";

const riskgraphSession = (() => {
  const KEY = "riskgraph.token";
  const match = location.hash.match(/(?:^#|&)token=([^&]+)/);
  if (match) {
    sessionStorage.setItem(KEY, decodeURIComponent(match[1]));
    // Out of the address bar, history and screenshots.
    history.replaceState(null, "", location.pathname + location.search);
  }
  const endpoint = new URL("/graphql", location.href).href;
  return {
    token: () => sessionStorage.getItem(KEY) || "",
    setToken: (token) => sessionStorage.setItem(KEY, token.trim()),
    forget: () => sessionStorage.removeItem(KEY),
    endpoint,
    socket: endpoint.replace(/^http/, "ws"),
  };
})();
