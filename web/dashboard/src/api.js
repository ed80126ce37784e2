// Calls to the server's HTTP API with the signed-in token; problems become ApiError.
import { signOut, token } from "./auth.js";

export class ApiError extends Error {
  constructor(status, problem) {
    const fields = problem?.errors
      ? ": " + Object.entries(problem.errors).map(([k, v]) => `${k}: ${v}`).join("; ")
      : "";
    super((problem?.detail ?? problem?.title ?? `HTTP ${status}`) + fields);
    this.status = status;
    this.problem = problem;
  }
}

export async function call(path, { method = "GET", body, contentType } = {}) {
  const headers = { Authorization: `Bearer ${token()}` };
  let payload;
  if (typeof body === "string") {
    payload = body;
    headers["Content-Type"] = contentType ?? "text/plain";
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers["Content-Type"] = "application/json";
  }
  const response = await fetch(path, { method, headers, body: payload });
  if (!response.ok) {
    const problem = await response.json().catch(() => null);
    if (response.status === 401) signOut();
    throw new ApiError(response.status, problem);
  }
  return response;
}

export async function json(path, options) {
  return (await call(path, options)).json();
}

/** Every page of a `{data, next_cursor}` list, handing each page's data to `onPage`. */
export async function everyPage(path, onPage, { limit = 1000, maxPages = 1000 } = {}) {
  const separator = path.includes("?") ? "&" : "?";
  let cursor = null;
  for (let page = 0; page < maxPages; page += 1) {
    const query = `${separator}limit=${limit}` + (cursor ? `&cursor=${encodeURIComponent(cursor)}` : "");
    const body = await json(path + query);
    onPage(body.data);
    cursor = body.next_cursor;
    if (!cursor) return;
  }
}

/** Saves what `path` answers (a CSV export) as a file. */
export async function download(path, filename) {
  const blob = await (await call(path)).blob();
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
