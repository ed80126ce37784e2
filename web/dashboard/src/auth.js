// Signing in: a token pasted in, or carried in the URL fragment (#token=...), which never
// reaches a server or its log. It is moved to sessionStorage (this tab only) and taken out of
// the address bar at once.

const KEY = "attendance.token";

export function takeTokenFromFragment() {
  const found = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (!found) return;
  sessionStorage.setItem(KEY, decodeURIComponent(found[1]));
  history.replaceState(history.state, "", location.pathname + location.search);
}

export function token() {
  return sessionStorage.getItem(KEY);
}

export function signIn(pasted) {
  sessionStorage.setItem(KEY, pasted.trim());
}

export function signOut() {
  sessionStorage.removeItem(KEY);
}

/** The token's claims as the page needs them (the server checks the signature on every call),
 * or null when there is none, it cannot be read, or it has expired. */
export function claims() {
  const raw = token();
  if (!raw) return null;
  try {
    const part = raw.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const text = new TextDecoder().decode(Uint8Array.from(atob(part), (c) => c.charCodeAt(0)));
    const body = JSON.parse(text);
    if (typeof body.exp === "number" && body.exp * 1000 < Date.now()) return null;
    return { user: body.sub, name: body.name ?? body.sub, org: body.org, role: body.role };
  } catch {
    return null;
  }
}
