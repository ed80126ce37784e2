// Building the page: every string goes in as text (createTextNode, textContent, setAttribute),
// never as markup, so a name like `<img src=x onerror=alert(1)>` shows as those characters.

export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes ?? {})) {
    if (value == null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      element.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      element.className = value;
    } else if (key === "dataset") {
      Object.assign(element.dataset, value);
    } else if (key === "value" || key === "checked" || key === "selected") {
      element[key] = value;
    } else {
      element.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(element, children);
  return element;
}

export function append(element, children) {
  for (const child of [children].flat(Infinity)) {
    if (child == null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

export function clear(element, ...children) {
  element.replaceChildren();
  return append(element, children);
}

export function main() {
  return document.getElementById("main");
}

/** A path of the dashboard, its ids escaped. */
export function path(...parts) {
  return "/dashboard/" + parts.map((part) => encodeURIComponent(part)).join("/");
}

export function errorBox(error) {
  const code = error?.problem?.code ? ` (${error.problem.code})` : "";
  return h("p", { class: "error", role: "alert" }, `${error?.message ?? error}${code}`);
}

/** Shows what `work` builds in place of `target`'s content, or the error it throws. */
export async function fill(target, work) {
  try {
    clear(target, await work());
  } catch (error) {
    clear(target, errorBox(error));
  }
}
