// A breakout's corrections on its report page: the log (who corrected whom, how, why, and what
// is still in force), a form for hosts and admins to add one, and withdrawing one. Every value
// is set as text; the server keeps the record (README "Corrections").
import { json } from "../api.js";
import { clear, errorBox, h } from "../dom.js";
import { fromLocalInput, when, zone } from "../time.js";

const REASONS = ["excused", "technical_problem", "joined_by_phone", "attended_elsewhere", "recorded_in_error", "other"];

export function correctionsCard(breakoutId, { canCorrect, onChanged }) {
  const id = encodeURIComponent(breakoutId);
  const rows = h("tbody");
  const status = h("p", { "aria-live": "polite", id: "correction-status" });
  const user = h("input", { id: "c-user", required: true, maxlength: 128, placeholder: "user id" });
  const kind = h("select", { id: "c-kind" }, ["present", "absent", "stay"].map((k) => h("option", { value: k }, k)));
  const reason = h("select", { id: "c-reason" }, REASONS.map((r) => h("option", { value: r }, r.replaceAll("_", " "))));
  const note = h("input", { id: "c-note", maxlength: 500, placeholder: "note (needed for other)" });
  const from = h("input", { id: "c-from", type: "datetime-local" });
  const to = h("input", { id: "c-to", type: "datetime-local" });
  const times = h("span", { class: "stay-times", hidden: true }, h("label", {}, `From (${zone})`, from), h("label", {}, `To (${zone})`, to));
  kind.addEventListener("change", () => { times.hidden = kind.value !== "stay"; });

  async function load() {
    try {
      const log = (await json(`/api/breakouts/${id}/corrections?limit=1000`)).data;
      clear(rows, log.map((c) => h("tr", { dataset: { id: c.id } },
        h("td", {}, c.id), h("td", {}, c.userId), h("td", {}, c.kind === "stay" ? `stay ${when(c.from)} – ${when(c.to)}` : c.kind),
        h("td", {}, c.reason.replaceAll("_", " ") + (c.note ? ` (${c.note})` : "")),
        h("td", {}, `${c.madeBy}, ${when(c.madeAt)}`),
        h("td", { class: "correction-state" }, c.status + (c.withdrawnReason ? `: ${c.withdrawnReason}` : "")),
        h("td", {}, canCorrect && c.status !== "withdrawn"
          ? h("button", { type: "button", class: "withdraw", onclick: (event) => askWhy(c, event.target.parentElement) }, "Withdraw") : null))));
    } catch (error) {
      clear(rows, h("tr", {}, h("td", { colspan: 7 }, errorBox(error))));
    }
  }

  // Withdrawing asks why, in place: the reason is part of the record.
  function askWhy(correction, cell) {
    const why = h("input", { class: "withdraw-reason", required: true, maxlength: 500, placeholder: "why?" });
    clear(cell, h("form", { class: "inline", onsubmit: (event) => { event.preventDefault(); withdraw(correction, why.value.trim()); } },
      why, h("button", { type: "submit", class: "danger withdraw-confirm" }, "Withdraw")));
    why.focus();
  }

  async function withdraw(correction, why) {
    if (!why) return;
    try {
      await json(`/api/corrections/${correction.id}/withdraw`, { method: "POST", body: { reason: why } });
      clear(status, `Correction ${correction.id} withdrawn.`);
      await load();
      onChanged();
    } catch (error) {
      clear(status, errorBox(error));
    }
  }

  const form = canCorrect ? h("form", { id: "correction-form", class: "settings", onsubmit: async (event) => {
    event.preventDefault();
    const body = { userId: user.value.trim(), kind: kind.value, reason: reason.value };
    if (note.value.trim()) body.note = note.value.trim();
    if (kind.value === "stay") Object.assign(body, { from: fromLocalInput(from.value), to: fromLocalInput(to.value) });
    try {
      const made = (await json(`/api/breakouts/${id}/corrections`, { method: "POST", body })).data;
      clear(status, `Correction ${made.id} recorded.`);
      form.reset();
      times.hidden = true;
      await load();
      onChanged();
    } catch (error) {
      clear(status, errorBox(error));
    }
  } }, h("label", {}, "User", user), h("label", {}, "Correction", kind), h("label", {}, "Reason", reason),
  h("label", {}, "Note", note), times, h("button", { type: "submit" }, "Record correction")) : null;

  const element = h("section", { class: "card", id: "corrections" }, h("h3", {}, "Corrections"),
    h("p", { class: "muted" }, "The recorded sessions never change: a correction is kept beside them, and can be withdrawn, never deleted."),
    form, status,
    h("div", { class: "scroll" }, h("table", { id: "corrections-table" }, h("thead", {}, h("tr", {},
      ["#", "User", "Correction", "Reason", `By, at (${zone})`, "Status", ""].map((t) => h("th", {}, t)))), rows)));
  load();
  return { element, prefill(userId) { if (form) { user.value = userId; user.focus(); } } };
}
