// A breakout's live view for its hosts: who is in (updated by presence-diff), the count, a feed
// of joins and leaves, the breakout's settings, and ending it.
import { json } from "../api.js";
import { clear, errorBox, h, main, path } from "../dom.js";
import { connect } from "../socket.js";
import { clock, fromLocalInput, toLocalInput, zone } from "../time.js";

const FEED_LIMIT = 200;
const REASONS = {
  leave: "left", disconnect: "lost connection", switched: "switched breakout", device_limit: "device limit",
  breakout_ended: "breakout ended", node_lost: "server node lost", shutdown: "server shut down", expired: "expired",
};

// What the browser measured, read by the benchmark: the snapshot's render and each diff's.
const timings = (window.__dashboardTimings = { snapshotMs: null, renderedAtMs: null, watchSentMs: null, ackMs: null, viewers: 0, diffMs: [] });

function place(viewer) {
  return [viewer.city, viewer.countryCode].filter(Boolean).join(", ") || "–";
}

// One row per viewer, cloned from a template and filled with textContent: thousands of rows
// render in a few hundred milliseconds, and a name is never markup.
const ROW = h("tr", {}, h("td", { class: "name" }), h("td"), h("td"), h("td"), h("td"), h("td"), h("td", { class: "state" }, h("span")), h("td", { class: "activity" }));

// What the viewer's client last said it is doing (README "Engagement"), and since when.
function showActivity(cell, activity, since) {
  cell.textContent = activity ? `${activity} since ${clock(since)}` : "–";
  cell.dataset.activity = activity ?? "";
}

function viewerRow(viewer) {
  const row = ROW.cloneNode(true);
  row.dataset.session = viewer.sessionId;
  row.dataset.user = viewer.userId;
  const cells = row.cells;
  cells[0].textContent = viewer.name ?? viewer.userId;
  cells[1].textContent = clock(viewer.since);
  cells[2].textContent = place(viewer);
  cells[3].textContent = viewer.device ?? "–";
  cells[4].textContent = viewer.browser ?? "–";
  cells[5].textContent = viewer.os ?? "–";
  const state = cells[6].firstChild;
  state.className = `badge ${viewer.state}`;
  state.textContent = viewer.state;
  showActivity(cells[7], viewer.activity, viewer.activitySince);
  return row;
}

function settingsForm(breakout, onSaved) {
  const rule = breakout.presentMinMinutes != null ? "minutes" : breakout.presentMinPercent != null ? "percent" : "default";
  const name = h("input", { id: "s-name", value: breakout.name ?? "", maxlength: 200 });
  const starts = h("input", { id: "s-starts", type: "datetime-local", value: toLocalInput(breakout.startsAt) });
  const ends = h("input", { id: "s-ends", type: "datetime-local", value: toLocalInput(breakout.endsAt) });
  const limit = h("input", { id: "s-limit", type: "number", min: 0, max: 1000, value: breakout.deviceLimit ?? "" });
  const kind = h("select", { id: "s-rule" }, h("option", { value: "default", selected: rule === "default" }, "server default"),
    h("option", { value: "minutes", selected: rule === "minutes" }, "minutes present"), h("option", { value: "percent", selected: rule === "percent" }, "% of schedule"));
  const amount = h("input", { id: "s-amount", type: "number", min: 0, step: "any", value: breakout.presentMinMinutes ?? breakout.presentMinPercent ?? "" });
  const status = h("p", { "aria-live": "polite" });
  const number = (input) => (input.value === "" ? null : Number(input.value));
  const form = h("form", { class: "card settings", id: "settings", onsubmit: async (event) => {
    event.preventDefault();
    const body = {
      name: name.value.trim() || null, startsAt: fromLocalInput(starts.value), endsAt: fromLocalInput(ends.value),
      deviceLimit: number(limit),
      presentMinMinutes: kind.value === "minutes" ? number(amount) : null,
      presentMinPercent: kind.value === "percent" ? number(amount) : null,
    };
    try {
      const saved = (await json(`/api/breakouts/${encodeURIComponent(breakout.breakoutId)}`, { method: "PUT", body })).data;
      clear(status, "Saved.");
      onSaved(saved);
    } catch (error) {
      clear(status, errorBox(error));
    }
  } },
  h("h3", {}, "Settings"),
  h("label", {}, "Name", name), h("label", {}, `Starts (${zone})`, starts), h("label", {}, `Ends (${zone})`, ends),
  h("label", {}, "Devices per user (0: any)", limit), h("label", {}, "Present when", kind, amount),
  h("button", { type: "submit" }, "Save"), status);
  return form;
}

// The breakout's chat as its hosts see it: every comment, newest at the bottom, with "Delete"
// and "Mute 10 min" for each (texts and names set as text, never markup).
function chatCard(socket, breakoutId) {
  const list = h("ol", { id: "chat", class: "feed chat" });
  const status = h("p", { class: "muted", "aria-live": "polite" });
  const byId = new Map();

  async function act(event, payload, done) {
    const ack = await socket.emitWithAck(event, { breakoutId, ...payload });
    clear(status, ack.ok ? done : errorBox(new Error(ack.error?.message ?? "refused")));
  }

  function show(comment) {
    if (byId.has(comment.id)) return;
    const item = h("li", { "data-comment": comment.id },
      h("span", { class: "muted" }, clock(comment.createdAt), " "),
      h("strong", { class: "author" }, comment.name ?? comment.userId), ": ",
      h("span", { class: "text" }, comment.text), " ",
      h("button", { type: "button", class: "link delete-comment", onclick: () => act("delete-comment", { commentId: comment.id }, "Deleted.") }, "Delete"), " ",
      h("button", { type: "button", class: "link mute-user", onclick: () => act("mute-user", { userId: comment.userId, minutes: 10 }, `${comment.name ?? comment.userId} muted for 10 min.`) }, "Mute 10 min"));
    byId.set(comment.id, item);
    list.append(item);
    list.scrollTop = list.scrollHeight;
  }

  socket.on("new-comment", (comment) => { if (comment.breakoutId === breakoutId) show(comment); });
  socket.on("comment-deleted", (gone) => {
    if (gone.breakoutId !== breakoutId) return;
    byId.get(gone.commentId)?.remove();
    byId.delete(gone.commentId);
  });
  return {
    element: h("section", { class: "card" }, h("h3", {}, "Chat"), list, status),
    async load() {
      const ack = await socket.emitWithAck("comments-before", { breakoutId });
      if (ack.ok) ack.comments.forEach(show);
    },
  };
}

export function livePage(who, breakoutId) {
  const title = h("h1", {}, breakoutId);
  const state = h("span", { id: "breakout-state", class: "badge" });
  const settingsSlot = h("div", { id: "settings-slot" });
  const count = h("output", { id: "viewer-count", class: "big" }, "0");
  const rows = h("tbody");
  const table = h("table", { id: "viewers" }, h("thead", {}, h("tr", {},
    ["Name", `Since (${zone})`, "Place", "Device", "Browser", "OS", "State", "Doing"].map((t) => h("th", {}, t)))), rows);
  const feed = h("ol", { id: "feed", class: "feed" });
  const status = h("p", { id: "socket-status", class: "muted", "aria-live": "polite" }, "Connecting…");
  const bySession = new Map();

  const dialog = h("dialog", { id: "end-dialog" },
    h("form", { method: "dialog" }, h("p", {}, "End this breakout for everyone in it? Their sessions close now."),
      h("menu", {}, h("button", { value: "cancel" }, "Cancel"), h("button", { value: "end", id: "end-confirm", class: "danger" }, "End breakout"))));
  dialog.addEventListener("close", async () => {
    if (dialog.returnValue !== "end") return;
    try {
      const ended = (await json(`/api/breakouts/${encodeURIComponent(breakoutId)}/end`, { method: "POST" })).data;
      clear(state, "ended");
      state.className = "badge ended";
      note(`Breakout ended at ${clock(ended.endedAt)}`);
    } catch (error) {
      status.replaceChildren(errorBox(error));
    }
  });
  const endButton = h("button", { type: "button", id: "end-breakout", class: "danger", onclick: () => dialog.showModal() }, "End breakout");

  function note(text) {
    feed.prepend(h("li", {}, text));
    while (feed.childElementCount > FEED_LIMIT) feed.lastElementChild.remove();
  }

  function showCount() {
    count.value = String(bySession.size);
  }

  function snapshot(viewers) {
    const started = performance.now();
    bySession.clear();
    const fragment = document.createDocumentFragment();
    for (const viewer of viewers) {
      const row = viewerRow(viewer);
      bySession.set(viewer.sessionId, row);
      fragment.append(row);
    }
    rows.replaceChildren(fragment);
    showCount();
    timings.snapshotMs = performance.now() - started;
    // From navigation start until the rows are laid out on screen (the next frame).
    requestAnimationFrame(() => {
      timings.renderedAtMs = performance.now();
      timings.viewers = viewers.length;
    });
  }

  function applyDiff(diff) {
    const started = performance.now();
    for (const viewer of diff.joins ?? []) {
      const row = viewerRow(viewer);
      const old = bySession.get(viewer.sessionId);
      if (old) old.replaceWith(row); else rows.append(row);
      if (!old) note(`${clock(viewer.since)} ${viewer.name ?? viewer.userId} joined`);
      bySession.set(viewer.sessionId, row);
    }
    for (const change of diff.states ?? []) {
      const row = bySession.get(change.sessionId);
      if (!row) continue;
      clear(row.querySelector(".state"), h("span", { class: `badge ${change.state}` }, change.state));
      if (change.state === "reconnecting") note(`${clock(change.since)} ${row.querySelector(".name").textContent} reconnecting`);
    }
    for (const change of diff.activities ?? []) {
      const row = bySession.get(change.sessionId);
      if (row) showActivity(row.cells[7], change.activity, change.since);
    }
    for (const leave of diff.leaves ?? []) {
      const row = bySession.get(leave.sessionId);
      if (!row) continue;
      row.remove();
      bySession.delete(leave.sessionId);
      note(`${clock(leave.exitTimestamp)} ${row.querySelector(".name").textContent} left (${REASONS[leave.reason] ?? leave.reason ?? "left"})`);
    }
    showCount();
    timings.diffMs.push(performance.now() - started);
  }

  // Details come after the first watch: watching a breakout nobody joined yet creates it.
  async function details() {
    try {
      const breakout = (await json(`/api/breakouts/${encodeURIComponent(breakoutId)}`)).data;
      clear(title, breakout.name ?? breakoutId);
      clear(state, breakout.state);
      state.className = `badge ${breakout.state}`;
      clear(settingsSlot, settingsForm(breakout, (saved) => clear(title, saved.name ?? breakoutId)));
    } catch (error) {
      clear(settingsSlot, errorBox(error));
    }
  }

  const socket = connect();
  const chat = chatCard(socket, breakoutId);
  let watched = false;
  socket.on("connect", async () => {
    timings.watchSentMs ??= performance.now();
    const ack = await socket.emitWithAck("watch-breakout", { breakoutId });
    timings.ackMs ??= performance.now();
    if (!ack.ok) return clear(status, errorBox(new Error(ack.error?.message ?? "cannot watch")));
    clear(status, "Live");
    snapshot(ack.viewers);
    chat.load();
    if (!watched) details();
    watched = true;
  });
  socket.on("connect_error", (error) => clear(status, errorBox(error)));
  socket.on("disconnect", () => clear(status, "Reconnecting…"));
  socket.on("presence-diff", (diff) => { if (diff.breakoutId === breakoutId) applyDiff(diff); });

  clear(main(),
    h("div", { class: "headline" }, title, state, h("span", { class: "spacer" }), h("a", { href: path("breakouts", breakoutId, "report") }, "Report"), endButton),
    h("div", { class: "grid live" },
      h("section", { class: "card" }, h("h3", {}, "Viewers ", count), status, h("div", { class: "scroll tall" }, table)),
      h("div", {}, chat.element, h("section", { class: "card" }, h("h3", {}, "Joins and leaves"), feed), settingsSlot)),
    dialog);
}
