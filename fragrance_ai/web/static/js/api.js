// The HTTP API as the page uses it: JSON in and out, errors as ApiError with the fields a
// 422 names. Where the service asks for an API key (401), the page asks the perfumer for
// one, keeps it in this tab's session storage only, and sends it as a bearer token.

const KEY_STORAGE = "fragrance-ai.api-key";

export class ApiError extends Error {
  constructor(status, detail) {
    super(describe(status, detail));
    this.status = status;
    this.detail = detail;
  }

  // 422 details as [{path: ["lines", 2, "name"], message}], "body" dropped from the path.
  get fieldErrors() {
    if (!Array.isArray(this.detail)) return [];
    return this.detail.map((item) => ({
      path: (item.loc ?? []).filter((part, index) => !(index === 0 && ["body", "query", "path"].includes(part))),
      message: item.msg ?? String(item),
    }));
  }
}

function describe(status, detail) {
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail.map((item) => `${(item.loc ?? []).slice(1).join(".")}: ${item.msg}`).join("; ");
  }
  if (status === 0) return "The service cannot be reached.";
  return `The service answered ${status}.`;
}

export function apiKey() {
  return sessionStorage.getItem(KEY_STORAGE);
}

export function forgetApiKey() {
  sessionStorage.removeItem(KEY_STORAGE);
}

async function askForKey(reason) {
  const dialog = document.getElementById("api-key-dialog");
  const input = document.getElementById("api-key-input");
  const error = document.getElementById("api-key-error");
  error.hidden = !reason;
  error.textContent = reason ?? "";
  input.value = "";
  dialog.showModal();
  input.focus();
  const choice = await new Promise((resolve) =>
    dialog.addEventListener("close", () => resolve(dialog.returnValue), { once: true }),
  );
  if (choice !== "save" || !input.value.trim()) return false;
  sessionStorage.setItem(KEY_STORAGE, input.value.trim());
  document.getElementById("api-key-button").hidden = false;
  return true;
}

export async function request(method, path, { body, query, accept = "application/json" } = {}) {
  const url = new URL(path, window.location.origin);
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  for (let attempt = 0; ; attempt++) {
    const headers = { accept };
    if (body !== undefined) headers["content-type"] = "application/json";
    const key = apiKey();
    if (key) headers.authorization = `Bearer ${key}`;
    let response;
    try {
      response = await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new ApiError(0, "The service cannot be reached; check that it is running.");
    }
    if (response.status === 401 && attempt < 3) {
      if (key) forgetApiKey();
      const given = await askForKey(key ? "That key was refused; give another." : null);
      if (given) continue;
    }
    if (!response.ok) {
      let detail = null;
      try {
        detail = (await response.json()).detail;
      } catch {
        detail = null;
      }
      if (response.status === 403 && detail === null) {
        detail = "Your API key does not allow this.";
      }
      throw new ApiError(response.status, detail);
    }
    if (response.status === 204) return null;
    return accept === "application/json" ? response.json() : response.text();
  }
}

export const get = (path, query) => request("GET", path, { query });
export const post = (path, body, query) => request("POST", path, { body, query });
export const getHtml = (path, query) => request("GET", path, { query, accept: "text/html" });
export const postHtml = (path, body, query) =>
  request("POST", path, { body, query, accept: "text/html" });

export function setUpKeyButton() {
  const button = document.getElementById("api-key-button");
  button.hidden = !apiKey();
  button.addEventListener("click", () => askForKey(null));
}
