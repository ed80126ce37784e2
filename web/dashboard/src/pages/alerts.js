// The org's fever alerts, newest first, arriving live; hosts and admins acknowledge them.
import { json } from "../api.js";
import { clear, errorBox, h, main } from "../dom.js";
import { connect } from "../socket.js";
import { when, zone } from "../time.js";

export function alertList(who, source) {
  const body = h("tbody");
  const canAcknowledge = who.role === "host" || who.role === "admin";
  const rows = new Map();

  function row(alert) {
    const acknowledged = alert.acknowledged_at
      ? h("span", {}, `by ${alert.acknowledged_by} at ${when(alert.acknowledged_at)}`)
      : canAcknowledge
        ? h("button", { type: "button", class: "acknowledge", onclick: async (event) => {
          event.target.disabled = true;
          try {
            show((await json(`/api/fever-alerts/${alert.id}/acknowledge`, { method: "POST" })).data);
          } catch (error) {
            event.target.replaceWith(errorBox(error));
          }
        } }, "Acknowledge")
        : "not yet";
    return h("tr", { "data-alert": alert.id, class: alert.acknowledged_at ? "" : "unacknowledged" },
      h("td", {}, when(alert.timestamp)), h("td", { class: "name" }, alert.user_name ?? alert.user_id), h("td", { class: "mono" }, alert.user_id),
      h("td", {}, alert.school_id), h("td", { class: "num" }, `${alert.temperature.toFixed(1)} °C`), h("td", {}, acknowledged));
  }

  function show(alert) {
    const fresh = row(alert);
    const old = rows.get(alert.id);
    if (old) old.replaceWith(fresh); else body.prepend(fresh);
    rows.set(alert.id, fresh);
  }

  const table = h("table", { id: "alerts" }, h("thead", {}, h("tr", {}, [`When (${zone})`, "Name", "User id", "School", "Temperature", "Acknowledged"].map((t) => h("th", {}, t)))), body);
  const status = h("p", { class: "muted" });
  json(source).then((found) => { for (const alert of found.data.reverse()) show(alert); if (!found.data.length) clear(status, "No alerts."); }, (error) => clear(status, errorBox(error)));
  return { element: h("div", {}, status, h("div", { class: "scroll" }, table)), show };
}

export function alertsPage(who) {
  const list = alertList(who, "/api/fever-alerts?limit=200");
  const socket = connect();
  socket.on("fever-alert", list.show);
  socket.on("fever-alert-acknowledged", list.show);
  clear(main(), h("h1", {}, "Fever alerts"), h("p", { class: "muted" }, "New alerts appear here as kiosks record them."), list.element);
}
