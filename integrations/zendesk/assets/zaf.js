// A small client of the Zendesk App Framework (ZAF v2) postMessage protocol, so the app
// needs no vendor script. The host opens this page with ?origin=<helpdesk origin>&app_guid=<id>;
// messages are JSON strings:
//   app → host  {key: "iframe.handshake", message: {version}, appGuid, instanceGuid}
//   host → app  {key: "zaf.app.registered", message: {metadata: {settings}, context}}
//   app → host  {id, request: "get" | "invoke", params, appGuid, instanceGuid}
//   host → app  {id, result} or {id, error: {message}}
//   app → host  {key: "iframe.on:<event>", message: {subscriberCount}}  (subscribe)
//   host → app  {key: "zaf.<event>", message: data}

const PROTOCOL_VERSION = "2.0";
const REQUEST_TIMEOUT_MS = 5000;

export class ZafError extends Error {}

export class ZafClient {
  static fromLocation(location = window.location, host = window.parent) {
    const params = new URLSearchParams(location.search);
    const origin = params.get("origin");
    const appGuid = params.get("app_guid");
    if (!origin || !appGuid || host === window) return null;
    return new ZafClient(origin, appGuid, host);
  }

  constructor(origin, appGuid, host) {
    this.origin = origin;
    this.appGuid = appGuid;
    this.host = host;
    this.nextId = 1;
    this.pending = new Map();
    this.handlers = new Map();
    this.registered = new Promise((resolve) => this.on("app.registered", resolve, { local: true }));
    window.addEventListener("message", (event) => this.receive(event));
    this.post({ key: "iframe.handshake", message: { version: PROTOCOL_VERSION } });
  }

  post(message) {
    const envelope = { ...message, appGuid: this.appGuid, instanceGuid: this.appGuid };
    this.host.postMessage(JSON.stringify(envelope), this.origin);
  }

  receive(event) {
    // Only the helpdesk that opened us may talk to us.
    if (event.origin !== this.origin || event.source !== this.host) return;
    let data = event.data;
    if (typeof data === "string") {
      try { data = JSON.parse(data); } catch { return; }
    }
    if (!data || typeof data !== "object") return;
    if (data.id !== undefined && this.pending.has(data.id)) {
      const { resolve, reject, timer } = this.pending.get(data.id);
      this.pending.delete(data.id);
      clearTimeout(timer);
      if (data.error) reject(new ZafError(data.error.message || String(data.error)));
      else resolve(data.result);
    } else if (typeof data.key === "string" && data.key.startsWith("zaf.")) {
      for (const handler of this.handlers.get(data.key.slice(4)) || []) handler(data.message);
    }
  }

  request(request, params) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ZafError(`the helpdesk did not answer ${request} in time`));
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(id, { resolve, reject, timer });
      this.post({ id, request, params });
    });
  }

  // get(["ticket.subject", …]) → {"ticket.subject": "…", errors: {path: {message}}}
  get(paths) {
    return this.request("get", Array.isArray(paths) ? paths : [paths]);
  }

  invoke(name, ...args) {
    return this.request("invoke", { [name]: args });
  }

  on(name, handler, { local = false } = {}) {
    const list = this.handlers.get(name) || [];
    list.push(handler);
    this.handlers.set(name, list);
    if (!local) this.post({ key: `iframe.on:${name}`, message: { subscriberCount: list.length } });
  }
}
