// The day / week / month controls shared by the organisation's and a school's aggregate.
import { h } from "./dom.js";
import { isoDay } from "./time.js";

export function periodControls(onChange) {
  const today = new Date();
  const monthAgo = new Date(today.getTime() - 29 * 86_400_000);
  const from = h("input", { type: "date", id: "from", value: isoDay(monthAgo), "aria-label": "From" });
  const to = h("input", { type: "date", id: "to", value: isoDay(today), "aria-label": "To" });
  const period = h("select", { id: "period", "aria-label": "Period" }, ["day", "week", "month"].map((p) => h("option", { value: p }, p)));
  for (const control of [from, to, period]) control.addEventListener("change", onChange);
  return {
    element: h("div", { class: "toolbar" }, h("label", {}, "From ", from), h("label", {}, "To ", to), h("label", {}, "Per ", period)),
    query: () => `from=${from.value}&to=${to.value}&period=${period.value}`,
    period: () => period.value,
  };
}
