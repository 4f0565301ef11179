// Strawberry's GraphiQL page script (strawberry/static/graphiql.html), kept in a file so that the
// page's Content-Security-Policy can allow scripts from the service only. Its Django CSRF cookie
// (js-cookie) is left out: this service takes bearer tokens, set in the Headers editor.
"use strict";

const EXAMPLE_QUERY = `# Welcome to GraphiQL
#
# Sign in by adding a header below:
#   {"Authorization": "Bearer <token from \`sessiongraph token EMAIL\`>"}
#
# Run Query:  Ctrl-Enter (or press the play button)
# Auto Complete:  Ctrl-Space (or just start typing)
#
{
  viewer {
    user { name }
  }
}
`;

// Shared queries come in the URL: ?q=...&variables=...&headers=...
const parameters = {};
for (const entry of window.location.search.slice(1).split("&")) {
  const eq = entry.indexOf("=");
  if (eq >= 0) {
    parameters[decodeURIComponent(entry.slice(0, eq))] = decodeURIComponent(entry.slice(eq + 1));
  }
}

function updateURL(data) {
  Object.assign(parameters, data);
  const newSearch = "?" + Object.keys(parameters)
    .filter((key) => Boolean(parameters[key]))
    .map((key) => encodeURIComponent(key) + "=" + encodeURIComponent(parameters[key]))
    .join("&");
  history.replaceState(null, null, newSearch);
}

const fetchURL = window.location.href.split("?")[0];

function httpUrlToWebSocketUrl(url) {
  const parsedURL = new URL(url);
  parsedURL.protocol = parsedURL.protocol === "http:" ? "ws:" : "wss:";
  parsedURL.hash = "";
  return parsedURL.toString();
}

const fetcher = GraphiQL.createFetcher({ url: fetchURL, subscriptionUrl: httpUrlToWebSocketUrl(fetchURL) });

function GraphiQLWithExplorer() {
  const [query, setQuery] = React.useState(parameters.q || EXAMPLE_QUERY);
  const [variables, setVariables] = React.useState(parameters.variables);
  const [headers, setHeaders] = React.useState(parameters.headers);

  function onEditQuery(newQuery) {
    setQuery(newQuery);
    updateURL({ q: newQuery });
  }

  function onEditVariables(newVariables) {
    setVariables(newVariables);
    updateURL({ variables: newVariables });
  }

  const explorerPlugin = GraphiQLPluginExplorer.explorerPlugin();

  return React.createElement(GraphiQL, {
    fetcher,
    defaultEditorToolsVisibility: true,
    plugins: [explorerPlugin],
    query,
    variables,
    headers,
    onEditQuery,
    onEditVariables,
    onEditHeaders: setHeaders,
    inputValueDeprecation: true,
    isHeadersEditorEnabled: true,
    shouldPersistHeaders: true,
  });
}

ReactDOM.createRoot(document.getElementById("graphiql")).render(React.createElement(GraphiQLWithExplorer));

// Controls GraphiQL and its explorer leave unnamed get a name, for screen readers (WCAG 4.1.2;
// tests/test_accessibility.py runs axe on this page). The editors (CodeMirror) take their keys in a
// textarea: each is named after its editor; the tool pane holds two, variables then headers, under one
// section named after the tab shown.
function nameControls() {
  for (const textarea of document.querySelectorAll("#graphiql .CodeMirror textarea:not([aria-label])")) {
    const tool = textarea.closest(".graphiql-editor-tool");
    const name = tool
      ? ["Variables", "Headers"][[...tool.querySelectorAll(".graphiql-editor")].indexOf(textarea.closest(".graphiql-editor"))]
      : textarea.closest("section[aria-label]")?.getAttribute("aria-label");
    if (name) textarea.setAttribute("aria-label", name);
  }
  // The response scrolls (a phone shows little of it) but CodeMirror keeps its scroller out of the tab
  // order: a keyboard could not reach what is below.
  for (const scroller of document.querySelectorAll("#graphiql .result-window .CodeMirror-scroll[tabindex='-1']")) {
    scroller.tabIndex = 0;
  }
  // The explorer's "Add new [Query]" choice.
  for (const select of document.querySelectorAll("#graphiql .graphiql-explorer-actions select:not([aria-label])")) {
    select.setAttribute("aria-label", "Kind of operation to add");
  }
}
new MutationObserver(nameControls).observe(document.getElementById("graphiql"), { childList: true, subtree: true });
