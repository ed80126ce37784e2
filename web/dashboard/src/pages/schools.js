// School admins' views: the schools; for one school, who is in now, its check-ins with
// filters, its day / week / month chart, its fever alerts, and importing users from a CSV.
import { call, download, everyPage, json } from "../api.js";
import { barChart, chartCard } from "../charts.js";
import { clear, errorBox, fill, h, main, path } from "../dom.js";
import { periodControls } from "../periods.js";
import { clock, when, zone } from "../time.js";
import { alertList } from "./alerts.js";

export function schoolsPage() {
  const body = h("tbody");
  clear(main(), h("h1", {}, "Schools"), h("table", { id: "schools" }, h("thead", {}, h("tr", {}, ["Name", "Id", "Time zone", "School days"].map((t) => h("th", {}, t)))), body));
  const rows = [];
  everyPage("/api/schools", (data) => rows.push(...data)).then(
    () => clear(body, rows.map((s) => h("tr", {}, h("td", {}, h("a", { href: path("schools", s.id) }, s.name)), h("td", { class: "mono" }, s.id), h("td", {}, s.time_zone), h("td", {}, s.school_days.join(" "))))),
    (error) => body.replaceWith(errorBox(error)),
  );
}

function inSchoolNow(schoolId) {
  const out = h("div", { id: "in-school" });
  fill(out, async () => {
    const here = (await json(`/api/schools/${encodeURIComponent(schoolId)}/present`)).data;
    if (!here.length) return h("p", { class: "muted" }, "Nobody is checked in.");
    return h("table", {}, h("thead", {}, h("tr", {}, ["Name", `Since (${zone})`, ""].map((t) => h("th", {}, t)))),
      h("tbody", {}, here.map((one) => h("tr", {}, h("td", {}, one.user_name ?? one.user_id), h("td", {}, when(one.since)), h("td", {}, one.missed_checkout ? "missed check-out" : "")))));
  });
  return out;
}

function checkIns(schoolId) {
  const user = h("input", { type: "search", placeholder: "User id", "aria-label": "User id" });
  const from = h("input", { type: "date", "aria-label": "From" });
  const to = h("input", { type: "date", "aria-label": "To" });
  const out = h("div", { id: "checkins" });
  async function load() {
    const query = new URLSearchParams({ school_id: schoolId, limit: "200" });
    if (user.value.trim()) query.set("user_id", user.value.trim());
    if (from.value) query.set("from", from.value);
    if (to.value) query.set("to", to.value);
    await fill(out, async () => {
      const events = (await json(`/api/attendances?${query}`)).data;
      if (!events.length) return h("p", { class: "muted" }, "No check-ins match.");
      return h("table", {}, h("thead", {}, h("tr", {}, [`When (${zone})`, "User", "Type", "Temperature", "Entered by"].map((t) => h("th", {}, t)))),
        h("tbody", {}, events.map((e) => h("tr", {}, h("td", {}, when(e.timestamp)), h("td", { class: "mono" }, e.user_id), h("td", {}, e.type), h("td", { class: "num" }, `${e.temperature.toFixed(1)} °C`), h("td", {}, e.entered_by ?? "–")))));
    });
  }
  for (const control of [user, from, to]) control.addEventListener("change", load);
  load();
  return h("div", {}, h("div", { class: "toolbar" }, user, h("label", {}, "From ", from), h("label", {}, "To ", to)), out);
}

function schoolChart(schoolId) {
  const out = h("div", { id: "school-report" });
  const controls = periodControls(load);
  const base = `/api/attendances/aggregate/school/${encodeURIComponent(schoolId)}`;
  async function load() {
    await fill(out, async () => {
      const periods = (await json(`${base}?${controls.query()}`)).data.periods;
      return chartCard("Present and absent", (c) => barChart(c, periods.map((p) => p.start), [
        { label: "present", data: periods.map((p) => p.present), color: "#16a34a" },
        { label: "absent", data: periods.map((p) => p.absent), color: "#dc2626" }], { stacked: true }), { id: "school" });
    });
  }
  load();
  const csv = h("button", { type: "button", onclick: () => download(`${base}?${controls.query()}&detail=users&format=csv`, `school-${schoolId}-${controls.period()}.csv`) }, "Download CSV (per user)");
  return h("div", {}, controls.element, csv, out);
}

function importUsers(schoolId) {
  const file = h("input", { type: "file", id: "import-file", accept: ".csv,text/csv", required: true });
  const result = h("div", { id: "import-result", "aria-live": "polite" });
  const form = h("form", { id: "import", onsubmit: async (event) => {
    event.preventDefault();
    const chosen = file.files[0];
    if (!chosen) return;
    try {
      const response = await call(`/api/schools/${encodeURIComponent(schoolId)}/users/import`, { method: "POST", body: await chosen.text(), contentType: "text/csv" });
      const body = await response.json();
      clear(result, h("p", { class: "ok" }, `Imported ${body.data.imported} users.`));
    } catch (error) {
      const lines = error.problem?.errors ?? {};
      clear(result, h("p", { class: "error", role: "alert" }, "Nothing was imported: fix these lines and try again."),
        h("ul", { class: "import-errors" }, Object.entries(lines).map(([line, why]) => h("li", {}, `${line}: ${why}`))),
        Object.keys(lines).length ? null : errorBox(error));
    }
  } },
  h("p", {}, "A CSV with a header line: name, email and optionally id (a new id is made when empty). Every line must be good, or nothing is imported."),
  file, h("button", { type: "submit" }, "Import"), result);
  return form;
}

export async function schoolPage(who, schoolId) {
  let school;
  try {
    school = (await json(`/api/schools/${encodeURIComponent(schoolId)}`)).data;
  } catch (error) {
    return clear(main(), errorBox(error));
  }
  clear(main(),
    h("h1", {}, school.name), h("p", { class: "muted" }, `Time zone ${school.time_zone}; times below in ${zone}. Updated ${clock(new Date().toISOString())}.`),
    h("div", { class: "grid" },
      h("section", { class: "card" }, h("h3", {}, "In school now"), inSchoolNow(schoolId)),
      h("section", { class: "card" }, h("h3", {}, "Fever alerts"), alertList(who, `/api/schools/${encodeURIComponent(schoolId)}/fever-alerts?limit=50`).element)),
    h("section", { class: "card" }, h("h3", {}, "Attendance"), schoolChart(schoolId)),
    h("section", { class: "card" }, h("h3", {}, "Check-ins"), checkIns(schoolId)),
    who.role === "admin" ? h("section", { class: "card" }, h("h3", {}, "Import users"), importUsers(schoolId)) : null);
}
