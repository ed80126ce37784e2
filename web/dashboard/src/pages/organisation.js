// The organisation's breakout attendance per day / week / month: present and absent (user and
// breakout pairs), as a chart and a table, with CSV.
import { download, json } from "../api.js";
import { barChart, chartCard } from "../charts.js";
import { clear, errorBox, h, main } from "../dom.js";
import { periodControls } from "../periods.js";

export function orgPage() {
  const out = h("div", { id: "org-report" });
  const controls = periodControls(load);
  const csv = h("button", { type: "button", id: "csv-org", onclick: () => download(`/api/attendances/aggregate/breakouts?${controls.query()}&format=csv`, `breakouts-${controls.period()}.csv`) }, "Download CSV");

  async function load() {
    try {
      const periods = (await json(`/api/attendances/aggregate/breakouts?${controls.query()}`)).data.periods;
      const labels = periods.map((p) => p.start);
      clear(out,
        chartCard("Present and absent", (c) => barChart(c, labels, [
          { label: "present", data: periods.map((p) => p.present), color: "#16a34a" },
          { label: "absent", data: periods.map((p) => p.absent), color: "#dc2626" }], { stacked: true }), { id: "org" }),
        h("table", { id: "org-table" }, h("thead", {}, h("tr", {}, ["Start", "End", "Breakouts", "Attendees", "Present", "Absent"].map((t) => h("th", {}, t)))),
          h("tbody", {}, periods.map((p) => h("tr", {}, [p.start, p.end, p.breakouts, p.attendees, p.present, p.absent].map((v) => h("td", {}, v)))))),
        periods.length ? null : h("p", { class: "muted" }, "No attendance in this range."));
    } catch (error) {
      clear(out, errorBox(error));
    }
  }

  clear(main(), h("h1", {}, "Organisation"), h("p", { class: "muted" }, "Breakout attendance: each user and breakout is present or absent under the breakout's rule (UTC days)."), controls.element, csv, out);
  load();
}
