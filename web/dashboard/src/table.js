// A table over rows held in memory (100,000 is fine): sort by a column, filter, a page at a time.
import { clear, h } from "./dom.js";

/**
 * columns: [{key, label, format?(value,row), numeric?}]; returns {element, setRows(rows)}.
 * `filter(row, text)` says whether a row matches the filter text.
 */
export function dataTable({ id, columns, filter, pageSize = 50, extraFilters = [] }) {
  let rows = [];
  let shown = [];
  let sortKey = null;
  let ascending = true;
  let page = 0;
  const search = h("input", { type: "search", placeholder: "Filter", "aria-label": "Filter rows", class: "table-filter" });
  const body = h("tbody");
  const info = h("span", { class: "muted table-info", "aria-live": "polite" });
  const previous = h("button", { type: "button", class: "table-prev", onclick: () => { page -= 1; render(); } }, "‹ Previous");
  const next = h("button", { type: "button", class: "table-next", onclick: () => { page += 1; render(); } }, "Next ›");
  const heads = columns.map((column) => h("th", { scope: "col", "data-key": column.key, class: column.numeric ? "num sortable" : "sortable",
    onclick: () => { ascending = sortKey === column.key ? !ascending : true; sortKey = column.key; refilter(); } }, column.label));
  const table = h("table", { id }, h("thead", {}, h("tr", {}, heads)), body);

  function refilter() {
    const text = search.value.trim().toLowerCase();
    shown = rows.filter((row) => (!text || filter(row, text)) && extraFilters.every((f) => f.test(row)));
    if (sortKey) {
      const direction = ascending ? 1 : -1;
      shown.sort((a, b) => {
        const x = a[sortKey], y = b[sortKey];
        if (x == null) return y == null ? 0 : 1;
        if (y == null) return -1;
        return (x < y ? -1 : x > y ? 1 : 0) * direction;
      });
    }
    for (const head of heads) head.setAttribute("aria-sort", head.dataset.key === sortKey ? (ascending ? "ascending" : "descending") : "none");
    page = 0;
    render();
  }

  function render() {
    const pages = Math.max(1, Math.ceil(shown.length / pageSize));
    page = Math.min(Math.max(page, 0), pages - 1);
    const slice = shown.slice(page * pageSize, (page + 1) * pageSize);
    clear(body, slice.map((row) => h("tr", {}, columns.map((c) => h("td", { class: c.numeric ? "num" : null }, c.format ? c.format(row[c.key], row) : row[c.key] ?? "–")))));
    clear(info, `${shown.length} of ${rows.length} · page ${page + 1} of ${pages}`);
    previous.disabled = page === 0;
    next.disabled = page >= pages - 1;
  }

  search.addEventListener("input", refilter);
  for (const f of extraFilters) f.element.addEventListener("change", refilter);
  const element = h("div", { class: "data-table" }, h("div", { class: "toolbar" }, search, extraFilters.map((f) => f.element), info, previous, next), h("div", { class: "scroll" }, table));
  return { element, setRows(all) { rows = all; refilter(); } };
}
