// The signed-in user's tokens: kept in localStorage, an access token renewed once with the refresh token
// (which is spent by it), and both revoked on sign-out. No screen here: app.js shows the forms.
import { GraphQLClient } from "./graphql.js";

const TOKEN_KEY = "sessiongraph.token";
const REFRESH_KEY = "sessiongraph.refreshToken";

export const accessToken = () => localStorage.getItem(TOKEN_KEY);

export function keepTokens(tokens) {
  localStorage.setItem(TOKEN_KEY, tokens.accessToken);
  localStorage.setItem(REFRESH_KEY, tokens.refreshToken);
}

// A token handed over in the address (`/app/?token=…`, as the CLI's demo links give): kept, and taken out
// of the address so that it stays out of the history and of screenshots.
export function takeTokenFromUrl() {
  const url = new URL(location.href);
  const token = url.searchParams.get("token");
  if (token) {
    localStorage.setItem(TOKEN_KEY, token.trim());
    url.searchParams.delete("token");
    history.replaceState(null, "", url.pathname + url.search + url.hash);
  }
}

// A signed-out client, for signIn, refreshToken and an invitation's setPassword.
export const anonymousClient = () => GraphQLClient.load(location.origin, null);

// A signed-in client, renewing its token by itself.
export async function signedInClient() {
  const client = await GraphQLClient.load(location.origin, accessToken());
  client.renewToken = renewToken;
  return client;
}

// A new access token from the refresh token (which is then spent); null when there is none to be had.
let renewing = null;
export function renewToken() {
  const refreshToken = localStorage.getItem(REFRESH_KEY);
  if (!refreshToken) return Promise.resolve(null);
  // One renewal at a time: the refresh token works once, and a second use would revoke them all.
  renewing = renewing || (async () => {
    try {
      const data = await (await anonymousClient()).request("RefreshToken", { input: { refreshToken } });
      const { tokens, errors } = data.refreshToken;
      if (errors.length || !tokens) {
        localStorage.removeItem(REFRESH_KEY);
        return null;
      }
      keepTokens(tokens);
      return tokens.accessToken;
    } finally {
      renewing = null;
    }
  })();
  return renewing;
}

// Forgets the tokens; `revoke` also revokes the refresh token on the server, without waiting for it.
export function forgetTokens({ revoke }) {
  const refreshToken = localStorage.getItem(REFRESH_KEY);
  if (refreshToken && revoke) {
    anonymousClient().then((client) => client.request("SignOut", { input: { refreshToken } })).catch(() => {});
  }
  localStorage.removeItem(TOKEN_KEY);
  localStorage.removeItem(REFRESH_KEY);
}
