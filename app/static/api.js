// Talks to the Deskmate API of the page's own origin. Errors are problem+json.

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

export class Api {
  constructor(storage) {
    this.storage = storage;
    this.hostKey = null; // a key handed over by the embedding host (postMessage) wins
  }

  get key() {
    return this.hostKey || this.storage.getItem("deskmate.apiKey") || "";
  }

  saveKey(key) {
    this.storage.setItem("deskmate.apiKey", key);
  }

  async request(path, { method = "GET", body, signal } = {}) {
    const headers = { Accept: "application/json", "X-Deskmate-Client": "sidebar" };
    if (this.key) headers["X-API-Key"] = this.key;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, {
      method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await response.json().catch(() => null);
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  search(params, signal) {
    const query = new URLSearchParams({ q: params.q, k: String(params.k || 8) });
    for (const name of ["lang", "product"]) if (params[name]) query.set(name, params[name]);
    return this.request(`/v1/search?${query}`, { signal });
  }

  article(id) {
    return this.request(`/v1/articles/${encodeURIComponent(id).replaceAll("%2F", "/")}`);
  }

  facets() {
    return this.request("/v1/facets");
  }

  feedback(body) {
    return this.request("/v1/feedback", { method: "POST", body });
  }

  // Clicks feed the analytics; losing one is harmless, so errors are ignored.
  event(body) {
    return this.request("/v1/events", { method: "POST", body }).catch(() => null);
  }

  // Feedback arrives in a later release; a 404 means this server has none yet.
  async hasFeedback() {
    try {
      await this.request("/v1/feedback", { method: "POST", body: {} });
      return true;
    } catch (error) {
      return !(error instanceof ApiError && error.status === 404);
    }
  }
}
