// Deskmate ticket-sidebar app: reads the ticket from the helpdesk (ZAF postMessage protocol),
// asks Deskmate's POST /v1/suggest, and shows the answers with "insert into reply" and feedback.
// KB text only ever enters the page as text nodes.

import { ZafClient } from "./zaf.js";

const TICKET_FIELDS = ["ticket.id", "ticket.subject", "ticket.description",
  "ticket.requester.locale", "currentUser.locale"];

const STRINGS = {
  en: {
    title: "Suggested articles", refresh: "Refresh", loading: "Reading the ticket…",
    insert: "Insert into reply", inserted: "Inserted", internal: "Internal — not for customers",
    translated: "translated from", stale: "review overdue", matched: "Matched",
    helpful: "Helpful", unhelpful: "Not helpful", thanks: "Thanks for the feedback",
    none: "No article answers this ticket yet.", weak: "No good match — closest articles:",
    notInHelpdesk: "Open this page as a Zendesk ticket-sidebar app.",
    configure: "Set the Deskmate URL and API key in the app settings.",
    badKey: "Deskmate refused the API key: check it in the app settings.",
    unreachable: "Deskmate cannot be reached at",
  },
  pl: {
    title: "Proponowane artykuły", refresh: "Odśwież", loading: "Czytam zgłoszenie…",
    insert: "Wstaw do odpowiedzi", inserted: "Wstawiono", internal: "Wewnętrzne — nie dla klientów",
    translated: "tłumaczenie z", stale: "wymaga przeglądu", matched: "Dopasowano",
    helpful: "Pomocne", unhelpful: "Niepomocne", thanks: "Dziękujemy za opinię",
    none: "Żaden artykuł nie odpowiada jeszcze na to zgłoszenie.",
    weak: "Brak dobrego dopasowania — najbliższe artykuły:",
  },
  ru: {
    title: "Подходящие статьи", refresh: "Обновить", loading: "Читаю обращение…",
    insert: "Вставить в ответ", inserted: "Вставлено", internal: "Внутреннее — не для клиентов",
    translated: "перевод с", stale: "нужна проверка", matched: "Совпало",
    helpful: "Полезно", unhelpful: "Не помогло", thanks: "Спасибо за отзыв",
    none: "Пока ни одна статья не отвечает на это обращение.",
    weak: "Точного совпадения нет — ближайшие статьи:",
  },
  fa: {
    title: "مقاله‌های پیشنهادی", refresh: "تازه‌سازی", loading: "در حال خواندن تیکت…",
    insert: "درج در پاسخ", inserted: "درج شد", internal: "داخلی — نه برای مشتری",
    translated: "ترجمه از", stale: "نیاز به بازبینی", matched: "منطبق",
    helpful: "مفید بود", unhelpful: "مفید نبود", thanks: "از بازخورد شما ممنونیم",
    none: "هنوز مقاله‌ای به این تیکت پاسخ نمی‌دهد.", weak: "تطابق خوبی نیست — نزدیک‌ترین مقاله‌ها:",
  },
};

class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || `HTTP ${status}`);
    this.status = status;
  }
}

class DeskmateApi {
  constructor(baseUrl, apiKey) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.apiKey = apiKey;
  }

  async post(path, body) {
    const response = await fetch(this.baseUrl + path, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json",
        "X-API-Key": this.apiKey, "X-Deskmate-Client": "zendesk" },
      body: JSON.stringify(body),
    });
    const data = await response.json().catch(() => null);
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  suggest(body) { return this.post("/v1/suggest", body); }
  feedback(body) { return this.post("/v1/feedback", body); }
  event(body) { return this.post("/v1/events", body); }
}

// Articles already inserted into this ticket's replies: never suggested again.
class SentArticles {
  constructor(ticketId) { this.key = `deskmate.sent.${ticketId}`; }
  list() {
    try { return JSON.parse(localStorage.getItem(this.key) || "[]"); } catch { return []; }
  }
  add(articleId) {
    const ids = new Set(this.list()).add(articleId);
    try { localStorage.setItem(this.key, JSON.stringify([...ids])); } catch { /* private mode */ }
  }
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (name === "class") node.className = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// Highlights are [start, end) offsets in Unicode code points, not UTF-16 units.
function highlighted(text, highlights) {
  const chars = Array.from(text);
  const parts = [];
  let last = 0;
  for (const [start, end] of highlights) {
    if (start < last || end > chars.length) continue;
    parts.push(chars.slice(last, start).join(""), el("mark", {}, chars.slice(start, end).join("")));
    last = end;
  }
  parts.push(chars.slice(last).join(""));
  return parts.filter((part) => part !== "");
}

function primaryLanguage(locale) {
  return (locale || "en").toLowerCase().split(/[-_]/)[0];
}

class App {
  constructor() {
    this.status = document.getElementById("status");
    this.list = document.getElementById("results");
    this.strings = STRINGS.en;
  }

  t(key) { return this.strings[key] || STRINGS.en[key]; }

  say(text, kind = "info") {
    this.status.textContent = text;
    this.status.dataset.kind = kind;
  }

  async start() {
    this.zaf = ZafClient.fromLocation();
    if (!this.zaf) return this.finish(this.t("notInHelpdesk"), "error");
    const registered = await this.zaf.registered;
    this.settings = registered?.metadata?.settings || {};
    if (!this.settings.deskmate_url || !this.settings.api_key) {
      return this.finish(this.t("configure"), "error");
    }
    this.api = new DeskmateApi(this.settings.deskmate_url, this.settings.api_key);
    document.getElementById("refresh").addEventListener("click", () => this.refresh());
    this.zaf.on("ticket.subject.changed", () => this.refresh());
    return this.refresh();
  }

  async refresh() {
    this.say(this.t("loading"));
    const fields = await this.zaf.get(TICKET_FIELDS);
    this.strings = STRINGS[primaryLanguage(fields["currentUser.locale"])] || STRINGS.en;
    document.getElementById("heading").textContent = this.t("title");
    this.sent = new SentArticles(fields["ticket.id"] ?? "unknown");
    const request = {
      subject: fields["ticket.subject"] || "", body: fields["ticket.description"] || "",
      k: Math.min(10, Math.max(1, Number(this.settings.results) || 5)),
      exclude_article_ids: this.sent.list(),
    };
    if (fields["ticket.requester.locale"]) request.customer_lang = fields["ticket.requester.locale"];
    if (fields["currentUser.locale"]) request.agent_lang = fields["currentUser.locale"];
    try {
      this.render(await this.api.suggest(request));
    } catch (error) {
      this.list.replaceChildren();
      this.finish(this.describe(error), "error");
    }
  }

  describe(error) {
    if (error instanceof ApiError) return error.status === 401 ? this.t("badKey") : error.message;
    return `${this.t("unreachable")} ${this.settings.deskmate_url}`;
  }

  render(answer) {
    this.answer = answer;
    this.list.replaceChildren(...answer.results.map((result, index) => this.card(result, index)));
    this.list.dataset.searchId = answer.search_id;
    const note = !answer.results.length ? this.t("none") : answer.no_good_match ? this.t("weak") : "";
    this.finish(note, answer.no_good_match ? "warning" : "info");
  }

  finish(text, kind) {
    this.say(text, kind);
    document.body.dataset.ready = "true";
    this.zaf?.invoke("resize", { width: "100%", height: `${document.body.scrollHeight}px` })
      .catch(() => {});
  }

  card(result, index) {
    const meta = [el("span", { class: "badge" }, result.lang)];
    if (result.pinned_from) meta.push(el("span", { class: "badge" }, `${this.t("translated")} ${result.pinned_from}`));
    if (result.stale) meta.push(el("span", { class: "badge badge-stale" }, this.t("stale")));
    if (result.internal) meta.push(el("span", { class: "badge badge-internal" }, this.t("internal")));
    const link = `${this.api.baseUrl}/sidebar?article=${encodeURIComponent(result.article_id)}`;
    const insert = el("button", { class: "insert", type: "button", disabled: result.internal,
      title: result.internal ? this.t("internal") : false }, this.t("insert"));
    insert.addEventListener("click", () => this.insert(result, index, insert));
    const votes = [true, false].map((helpful) => {
      const button = el("button", { class: helpful ? "helpful" : "unhelpful", type: "button",
        "aria-label": this.t(helpful ? "helpful" : "unhelpful") }, helpful ? "👍" : "👎");
      button.addEventListener("click", () => this.vote(result, helpful, button.parentElement));
      return button;
    });
    return el("li", { class: "card", dataset: { articleId: result.article_id } },
      el("a", { class: "title", href: link, target: "_blank", rel: "noopener", dir: "auto" }, result.title),
      el("div", { class: "section", dir: "auto" }, result.section),
      el("div", { class: "meta" }, meta),
      el("p", { class: "snippet", dir: "auto" }, highlighted(result.snippet, result.highlights)),
      result.why.terms.length
        ? el("div", { class: "why", dir: "auto" }, `${this.t("matched")}: ${result.why.terms.join(", ")}`)
        : null,
      el("div", { class: "actions" }, insert, el("span", { class: "feedback" }, votes)));
  }

  async insert(result, index, button) {
    let text = result.passage;
    const template = this.settings.help_center_url;
    if (template) text += `\n\n${result.title}: ${template.replace("{id}", encodeURIComponent(result.article_id))}`;
    await this.zaf.invoke("ticket.comment.appendText", text);
    this.sent.add(result.article_id);
    button.textContent = this.t("inserted");
    button.disabled = true;
    this.api.event({ search_id: this.answer.search_id, article_id: result.article_id,
      rank: index + 1, action: "copy" }).catch(() => {});
  }

  async vote(result, helpful, holder) {
    try {
      await this.api.feedback({ search_id: this.answer.search_id, article_id: result.article_id,
        section: result.section, helpful });
      holder.replaceChildren(el("span", { class: "thanks" }, this.t("thanks")));
    } catch (error) {
      // A server without feedback (or one that does not know this search) answers 404.
      if (error instanceof ApiError && error.status === 404) document.body.classList.add("no-feedback");
      else this.say(this.describe(error), "error");
    }
  }
}

new App().start();
