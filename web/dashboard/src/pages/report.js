// A breakout's attendance report: totals, the per-user table (every user, sortable,
// filterable, paged), CSV downloads, and charts of viewers over time, joins and leaves,
// the spread of attended percent, and clients by device, browser, OS and country (a map).
import { download, everyPage, json } from "../api.js";
import { barChart, chartCard, doughnutChart, lineChart, worldMap } from "../charts.js";
import { clear, errorBox, h, main, path } from "../dom.js";
import { dataTable } from "../table.js";
import { duration, tick, when, zone } from "../time.js";
import { correctionsCard } from "./corrections.js";

const yesNo = (value) => (value ? "yes" : "no");
// A corrected figure says so, with what the sessions alone say beside it.
const presentCell = (value, row) =>
  row.corrected ? `${yesNo(value)} (corrected; recorded: ${yesNo(row.recordedPresent)})` : yesNo(value);
const attendedCell = (value, row) =>
  row.recordedSeconds !== value ? `${duration(value)} (recorded ${duration(row.recordedSeconds)})` : duration(value);

function percentSpread(users) {
  const bins = Array.from({ length: 10 }, () => 0);
  for (const user of users) {
    if (user.percent == null) continue;
    bins[Math.min(9, Math.floor(Math.min(user.percent, 100) / 10))] += 1;
  }
  return { labels: bins.map((_, i) => `${i * 10}–${i * 10 + 10}%`), data: bins };
}

function label(value) {
  return value ?? "unknown";
}

// A present user's signed certificate, opened as its printable page.
async function openCertificate(breakoutId, userId, button) {
  try {
    const issued = (await json(`/api/breakouts/${encodeURIComponent(breakoutId)}/certificates/${encodeURIComponent(userId)}`)).data;
    window.open(issued.links.view, "_blank", "noopener");
  } catch (error) {
    button.replaceWith(errorBox(error));
  }
}

export async function reportPage(who, breakoutId) {
  const id = encodeURIComponent(breakoutId);
  const hosts = who.role === "host" || who.role === "admin";
  const corrections = correctionsCard(breakoutId, { canCorrect: hosts, onChanged: () => reportPage(who, breakoutId) });
  const actions = (_, row) => [
    row.present ? h("button", { type: "button", class: "certificate", onclick: (event) => openCertificate(breakoutId, row.userId, event.target) }, "Certificate") : null,
    hosts ? h("button", { type: "button", class: "correct", onclick: () => corrections.prefill(row.userId) }, "Correct…") : null,
  ];
  const summary = h("section", { class: "card", id: "summary" }, h("p", { class: "muted" }, "Loading…"));
  const present = h("select", { "aria-label": "Present" }, h("option", { value: "" }, "Everyone"), h("option", { value: "true" }, "Present"), h("option", { value: "false" }, "Absent"));
  const table = dataTable({
    id: "report",
    columns: [
      { key: "userName", label: "Name", format: (v, row) => v ?? row.userId },
      { key: "userId", label: "User id" },
      { key: "firstJoin", label: `First join (${zone})`, format: when },
      { key: "lastLeave", label: `Last leave (${zone})`, format: when },
      { key: "attendedSeconds", label: "Attended", numeric: true, format: attendedCell },
      { key: "percent", label: "%", numeric: true, format: (v) => (v == null ? "–" : v.toFixed(1)) },
      { key: "present", label: "Present", format: presentCell },
      { key: "activeSeconds", label: "Active", numeric: true, format: duration },
      { key: "idleSeconds", label: "Idle", numeric: true, format: duration },
      { key: "comments", label: "Comments", numeric: true },
      { key: "onDemandSeconds", label: "On demand", numeric: true, format: duration },
      { key: "sessions", label: "Sessions", numeric: true },
      { key: "actions", label: "", format: actions },
    ],
    filter: (row, text) => row.userId.toLowerCase().includes(text) || (row.userName ?? "").toLowerCase().includes(text),
    extraFilters: [{ element: present, test: (row) => present.value === "" || String(row.present) === present.value }],
  });
  const charts = h("div", { class: "grid charts", id: "charts" });
  const downloads = h("div", { class: "toolbar" },
    h("button", { type: "button", id: "csv-attendance", onclick: () => download(`/api/breakouts/${id}/attendance?format=csv`, `attendance-${breakoutId}.csv`) }, "Download attendance CSV (UTC)"),
    h("button", { type: "button", id: "csv-sessions", onclick: () => download(`/api/breakouts/${id}/sessions?format=csv`, `sessions-${breakoutId}.csv`) }, "Download sessions CSV (UTC)"),
    h("button", { type: "button", id: "csv-analytics", onclick: () => download(`/api/breakouts/${id}/analytics?format=csv`, `analytics-${breakoutId}.csv`) }, "Download per-user analytics CSV (UTC)"),
    h("button", { type: "button", id: "csv-corrections", onclick: () => download(`/api/breakouts/${id}/corrections?format=csv`, `corrections-${breakoutId}.csv`) }, "Download corrections CSV (UTC)"));
  clear(main(),
    h("div", { class: "headline" }, h("h1", {}, "Report: ", h("span", { id: "report-title" }, breakoutId)), h("span", { class: "spacer" }), hosts ? h("a", { href: path("breakouts", breakoutId) }, "Live view") : null),
    summary, downloads, h("section", { class: "card" }, h("h3", {}, "Attendees"), table.element), corrections.element, charts);

  const users = [];
  let head;
  try {
    // One answer for a class of up to 100,000 (each page would recompute the totals).
    await everyPage(`/api/breakouts/${id}/attendance`, (data) => { head = data; users.push(...data.users); }, { limit: 100_000 });
  } catch (error) {
    return clear(summary, errorBox(error));
  }
  clear(document.getElementById("report-title"), head.name ?? breakoutId);
  const rule = head.policy.minMinutes != null ? `${head.policy.minMinutes} min` : `${head.policy.minPercent}% of the schedule`;
  clear(summary, h("dl", { class: "figures" },
    h("div", {}, h("dt", {}, "Attendees"), h("dd", { id: "fig-attendees" }, head.attendees)),
    h("div", {}, h("dt", {}, "Present"), h("dd", { id: "fig-present" }, head.present)),
    h("div", {}, h("dt", {}, "Absent"), h("dd", { id: "fig-absent" }, head.absent)),
    h("div", {}, h("dt", {}, "Corrected users"), h("dd", { id: "fig-corrected" }, head.correctedUsers ? `${head.correctedUsers} (present as recorded: ${head.recordedPresent})` : "none")),
    h("div", {}, h("dt", {}, "Schedule"), h("dd", {}, `${when(head.startsAt)} – ${when(head.endsAt)}`)),
    h("div", {}, h("dt", {}, "Present when"), h("dd", {}, rule))));
  table.setRows(users);

  const [timeline, shares] = await Promise.all([json(`/api/breakouts/${id}/timeline`), json(`/api/breakouts/${id}/breakdowns`)]).catch((error) => {
    charts.append(errorBox(error));
    return [null, null];
  });
  if (!timeline) return;
  const buckets = timeline.data.buckets;
  const labels = buckets.map((b) => tick(b.start));
  const spread = percentSpread(users);
  const s = shares.data;
  charts.append(
    chartCard("Viewers over time", (c) => lineChart(c, labels, [{ label: "most at once", data: buckets.map((b) => b.peak) }]), { id: "timeline" }),
    chartCard(`Joins and leaves per ${timeline.data.stepSeconds >= 60 ? timeline.data.stepSeconds / 60 + " min" : timeline.data.stepSeconds + " s"}`, (c) => barChart(c, labels, [
      { label: "joins", data: buckets.map((b) => b.joins), color: "#16a34a" }, { label: "leaves", data: buckets.map((b) => -b.leaves), color: "#dc2626" }], { stacked: true, absolute: true }), { id: "moves" }),
    chartCard("Attended % (users)", (c) => barChart(c, spread.labels, [{ label: "users", data: spread.data }]), { id: "spread" }),
    chartCard("Device type", (c) => doughnutChart(c, s.deviceType.map((x) => label(x.value)), s.deviceType.map((x) => x.users)), { id: "device" }),
    chartCard("Browser", (c) => barChart(c, s.browser.map((x) => label(x.value)), [{ label: "users", data: s.browser.map((x) => x.users) }], { horizontal: true }), { id: "browser" }),
    chartCard("Operating system", (c) => barChart(c, s.os.map((x) => label(x.value)), [{ label: "users", data: s.os.map((x) => x.users) }], { horizontal: true }), { id: "os" }),
    chartCard("Countries", (c) => worldMap(c, Object.fromEntries(s.country.filter((x) => x.value).map((x) => [x.value, x.users]))), { tall: true, id: "map" }),
  );
}
