// GraphiQL with the tab's token on every request, HTTP and WebSocket alike.
"use strict";

(() => {
  const session = riskgraphSession;
  const field = document.getElementById("token");
  field.value = session.token();
  document.getElementById("bar").addEventListener("submit", (event) => {
    event.preventDefault();
    session.setToken(field.value);
    // The fetcher and its socket carry the token they were made with.
    location.reload();
  });
  const auth = session.token() ? { Authorization: `Bearer ${session.token()}` } : {};
  const fetcher = GraphiQL.createFetcher({
    url: session.endpoint,
    subscriptionUrl: session.socket,
    headers: auth,
    wsConnectionParams: auth,
  });
  const defaultQuery = `# The registers you can see, with their heatmap counts.
{
  registers {
    id
    name
    heatmap { cells { likelihoodLevel impactLevel count } }
  }
}
`;
  ReactDOM.createRoot(document.getElementById("graphiql")).render(
    React.createElement(GraphiQL, { fetcher, defaultQuery }),
  );
})();
