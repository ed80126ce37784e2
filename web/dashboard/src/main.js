// The dashboard's entry: sign-in, the navigation each role sees, and which page a path shows.
// Every page is its own URL under /dashboard/ (the server answers each with this shell).
import { claims, signIn, signOut, takeTokenFromFragment, token } from "./auth.js";
import { clear, h, main } from "./dom.js";
import { zone } from "./time.js";

const HOSTS = new Set(["host", "admin"]);
const READERS = new Set(["analyst", "host", "admin"]);

// Each page's module loads when its path is opened (the live view needs no charts).
const ROUTES = [
  [/^\/dashboard\/?$/, READERS, async () => (await import("./pages/breakouts.js")).breakoutsPage],
  [/^\/dashboard\/breakouts\/([^/]+)\/?$/, HOSTS, async () => (await import("./pages/live.js")).livePage, "live"],
  [/^\/dashboard\/breakouts\/([^/]+)\/report\/?$/, READERS, async () => (await import("./pages/report.js")).reportPage],
  [/^\/dashboard\/organisation\/?$/, READERS, async () => (await import("./pages/organisation.js")).orgPage],
  [/^\/dashboard\/alerts\/?$/, READERS, async () => (await import("./pages/alerts.js")).alertsPage],
  [/^\/dashboard\/schools\/?$/, READERS, async () => (await import("./pages/schools.js")).schoolsPage],
  [/^\/dashboard\/schools\/([^/]+)\/?$/, READERS, async () => (await import("./pages/schools.js")).schoolPage],
];

function navigation(who) {
  const links = [
    ["Breakouts", "/dashboard/"],
    ["Organisation", "/dashboard/organisation"],
    ["Fever alerts", "/dashboard/alerts"],
    ["Schools", "/dashboard/schools"],
  ];
  clear(
    document.getElementById("nav"),
    READERS.has(who.role) ? links.map(([label, href]) => h("a", { href, "aria-current": location.pathname === href ? "page" : null }, label)) : [],
  );
  clear(
    document.getElementById("who"),
    `${who.name} · ${who.role} · ${who.org} `,
    h("button", { type: "button", class: "link", onclick: () => { signOut(); location.reload(); } }, "Sign out"),
  );
}

function signInPage() {
  const field = h("textarea", { id: "token", rows: 4, placeholder: "eyJhbGciOi…", required: true, autocomplete: "off", spellcheck: "false" });
  const form = h(
    "form",
    { class: "card narrow", onsubmit: (event) => { event.preventDefault(); signIn(field.value); location.reload(); } },
    h("h1", {}, "Sign in"),
    h("p", {}, "Paste your access token, or open the link you were given (it signs you in and keeps the token out of the address bar)."),
    h("label", { for: "token" }, "Token"),
    field,
    h("button", { type: "submit" }, "Sign in"),
  );
  if (token()) form.prepend(h("p", { class: "error", role: "alert" }, "That token has expired or cannot be read: sign in again."));
  clear(main(), form);
}

function nothingForYou(who) {
  clear(
    main(),
    h("section", { class: "card narrow", id: "nothing" }, h("h1", {}, "Nothing here for your role"),
      h("p", {}, `Signed in as ${who.name} (${who.role}). The dashboard is for hosts, analysts and admins; attendees join their breakouts from the class page.`)),
  );
}

async function start() {
  takeTokenFromFragment();
  clear(document.getElementById("zone"), `Times in ${zone}`);
  const who = claims();
  if (!who) return signInPage();
  navigation(who);
  for (const [pattern, roles, page, name] of ROUTES) {
    const found = pattern.exec(location.pathname);
    if (!found) continue;
    if (name === "live" && who.role === "analyst") return location.replace(location.pathname.replace(/\/?$/, "/report"));
    if (!roles.has(who.role)) return nothingForYou(who);
    return (await page())(who, ...found.slice(1).map(decodeURIComponent));
  }
  clear(main(), h("section", { class: "card narrow" }, h("h1", {}, "Not found"), h("p", {}, "No page at this address. "), h("a", { href: "/dashboard/" }, "Go to the dashboard")));
}

start();
