// The org's breakouts: searchable, with state and live viewer count (refreshed every few s).
import { everyPage } from "../api.js";
import { clear, errorBox, h, main, path } from "../dom.js";
import { when } from "../time.js";

const REFRESH_MS = 5000;

export function breakoutsPage(who) {
  const hosts = who.role === "host" || who.role === "admin";
  const search = h("input", { type: "search", id: "search", placeholder: "Name or id", "aria-label": "Search breakouts" });
  const state = h("select", { id: "state", "aria-label": "State" },
    h("option", { value: "" }, "Any state"), h("option", { value: "live" }, "Live"),
    h("option", { value: "scheduled" }, "Scheduled"), h("option", { value: "ended" }, "Ended"));
  const body = h("tbody");
  const status = h("p", { class: "muted", "aria-live": "polite" });
  const table = h("table", { id: "breakouts" },
    h("thead", {}, h("tr", {}, ["Name", "Id", "State", "Viewers", "Starts", "Ends", ""].map((t) => h("th", {}, t)))), body);

  let generation = 0;
  async function load() {
    const mine = ++generation;
    const query = new URLSearchParams();
    if (search.value.trim()) query.set("q", search.value.trim());
    if (state.value) query.set("state", state.value);
    const rows = [];
    try {
      await everyPage(`/api/breakouts?${query}`, (data) => rows.push(...data), { limit: 500, maxPages: 20 });
    } catch (error) {
      if (mine === generation) clear(status, errorBox(error));
      return;
    }
    if (mine !== generation) return;
    clear(body, rows.map((b) => h("tr", { "data-breakout": b.breakoutId },
      h("td", {}, hosts ? h("a", { href: path("breakouts", b.breakoutId) }, b.name ?? b.breakoutId) : (b.name ?? b.breakoutId)),
      h("td", { class: "mono" }, b.breakoutId),
      h("td", {}, h("span", { class: `badge ${b.state}` }, b.state)),
      h("td", { class: "num viewers" }, b.viewers ?? "–"),
      h("td", {}, when(b.startsAt)),
      h("td", {}, when(b.endedAt ?? b.endsAt)),
      h("td", {}, h("a", { href: path("breakouts", b.breakoutId, "report") }, "Report")),
    )));
    clear(status, rows.length ? `${rows.length} breakout${rows.length === 1 ? "" : "s"}` : "No breakouts match.");
  }

  let typing;
  search.addEventListener("input", () => { clearTimeout(typing); typing = setTimeout(load, 250); });
  state.addEventListener("change", load);
  clear(main(), h("h1", {}, "Breakouts"), h("div", { class: "toolbar" }, search, state), status, h("div", { class: "scroll" }, table));
  load();
  setInterval(() => { if (document.visibilityState === "visible") load(); }, REFRESH_MS);
}
