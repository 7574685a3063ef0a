// The agent sidebar: search as you type, keyboard first, safe with any KB text.
import { Api, ApiError } from "./api.js";
import { applyStatic, makeTranslator, pickLanguage } from "./i18n.js";
import { articleBody, badge, el, resultCard } from "./render.js";

const DEBOUNCE_MS = 150;
const $ = (id) => document.getElementById(id);

class Sidebar {
  constructor() {
    this.api = new Api(localStorage);
    this.seq = 0;            // number of the latest search; older responses are dropped
    this.controller = null;  // aborts the request in flight when a newer one starts
    this.timer = null;
    this.results = [];
    this.searchId = null;
    this.article = null;     // {data, section} while the article view is open
    this.feedback = false;
    this.setLanguage(pickLanguage(localStorage.getItem("deskmate.uiLang"), navigator.languages));
  }

  setLanguage(lang) {
    this.lang = lang;
    this.t = makeTranslator(lang);
    applyStatic(document, lang, this.t);
    $("ui-lang").value = lang;
  }

  async start() {
    this.bind();
    this.restoreFilters();
    window.parent?.postMessage({ type: "deskmate:ready" }, "*");
    const params = new URLSearchParams(location.search);
    this.loadFacets();
    this.api.hasFeedback().then((available) => this.showFeedback(available));
    const typedEarly = $("q").value.trim(); // typed before this script ran
    if (params.get("q") || typedEarly) this.setQuery(params.get("q") || typedEarly);
    if (params.get("article")) this.openArticle(params.get("article"), params.get("section"));
    else $("q").focus();
    document.body.dataset.ready = "true";
  }

  bind() {
    const q = $("q");
    q.addEventListener("input", () => this.schedule());
    $("search-form").addEventListener("submit", (e) => { e.preventDefault(); this.searchNow(); });
    for (const id of ["filter-lang", "filter-product"]) {
      $(id).addEventListener("change", () => { this.saveFilters(); this.searchNow(); });
    }
    $("ui-lang").addEventListener("change", (e) => {
      localStorage.setItem("deskmate.uiLang", e.target.value);
      this.setLanguage(e.target.value);
      this.renderResults();
    });
    $("back").addEventListener("click", () => this.closeArticle());
    $("results").addEventListener("click", (e) => this.onResultClick(e));
    $("article").addEventListener("click", (e) => this.onArticleClick(e));
    $("copy-section").addEventListener("click", (e) => {
      this.trackArticle("copy");
      this.copy(e.target, this.sectionText());
    });
    $("copy-article-link").addEventListener("click", (e) => {
      this.trackArticle("link");
      this.copy(e.target, this.deepLink(this.article.data.id, this.article.section));
    });
    $("helpful").addEventListener("click", () => this.vote(true));
    $("not-helpful").addEventListener("click", () => this.vote(false));
    $("tell-owners").addEventListener("click", () => this.tellOwners());
    $("key-form").addEventListener("submit", (e) => {
      e.preventDefault();
      this.api.saveKey($("api-key").value.trim());
      $("key-view").hidden = true;
      this.searchNow();
    });
    document.addEventListener("keydown", (e) => this.onKey(e));
    window.addEventListener("message", (e) => this.onMessage(e));
  }

  // --- searching -------------------------------------------------------------

  schedule() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.searchNow(), DEBOUNCE_MS);
  }

  setQuery(text) {
    $("q").value = text;
    this.searchNow();
  }

  async searchNow() {
    clearTimeout(this.timer);
    const q = $("q").value.trim();
    const seq = ++this.seq;
    this.controller?.abort();
    if (!q) { this.clearResults(); return; }
    this.controller = new AbortController();
    const params = { q, lang: $("filter-lang").value, product: $("filter-product").value };
    try {
      const data = await this.api.search(params, this.controller.signal);
      if (seq !== this.seq) return; // a newer search started meanwhile
      this.showResults(data);
    } catch (error) {
      if (error.name === "AbortError" || seq !== this.seq) return;
      this.showError(error);
    }
  }

  showResults(data) {
    this.query = data.query;
    this.searchId = data.search_id;
    this.noGoodMatch = data.no_good_match;
    this.results = data.results.map((r) => ({ ...r, deepLink: this.deepLink(r.article_id, r.url.split("#")[1]) }));
    if (this.article) this.closeArticle(false);
    this.renderResults();
  }

  renderResults() {
    const list = $("results");
    list.replaceChildren(...this.results.map((r, i) => resultCard(r, i, this.t)));
    list.dataset.query = this.query || "";
    const noMatch = Boolean(this.query && this.noGoodMatch);
    $("no-match").hidden = !noMatch;
    $("no-match-text").textContent = noMatch ? this.t("noMatch", this.query) : "";
    $("tell-owners").disabled = false;
    $("tell-owners").textContent = this.t("tellOwners");
    // The no-match box says it visibly; the live region still announces it.
    $("status").classList.toggle("visually-hidden", noMatch);
    if (!this.query) { $("status").textContent = ""; return; }
    $("status").textContent = this.results.length
      ? (noMatch ? this.t("noMatch", this.query) : this.t("results", this.results.length, this.query))
      : this.t("noResults", this.query);
  }

  clearResults() {
    this.results = [];
    this.query = "";
    this.renderResults();
  }

  showError(error) {
    const status = error instanceof ApiError ? error.status : 0;
    if (status === 401) {
      $("key-view").hidden = false;
      $("api-key").focus();
    }
    $("status").textContent = status === 401 ? this.t("keyNeeded")
      : status === 403 ? this.t("forbidden")
      : status === 503 ? this.t("notReady") : this.t("error");
  }

  // --- filters -----------------------------------------------------------------

  async loadFacets() {
    try {
      const facets = await this.api.facets();
      this.fillSelect("filter-lang", facets.lang);
      this.fillSelect("filter-product", facets.product);
      this.restoreFilters();
    } catch { /* filters stay at "Any" */ }
  }

  fillSelect(id, values) {
    const select = $(id);
    const any = select.options[0];
    select.replaceChildren(any, ...values.map((v) => el("option", { value: v }, v)));
  }

  saveFilters() {
    localStorage.setItem("deskmate.filters", JSON.stringify({
      lang: $("filter-lang").value, product: $("filter-product").value }));
  }

  restoreFilters() {
    const saved = JSON.parse(localStorage.getItem("deskmate.filters") || "{}");
    for (const [id, value] of [["filter-lang", saved.lang], ["filter-product", saved.product]]) {
      if (value && [...$(id).options].some((o) => o.value === value)) $(id).value = value;
    }
  }

  // --- results and keyboard ------------------------------------------------------

  onResultClick(event) {
    const item = event.target.closest(".result");
    if (!item) return;
    const rank = [...item.parentNode.children].indexOf(item) + 1;
    const result = this.results[rank - 1];
    const track = (action) => this.searchId && this.api.event(
      { search_id: this.searchId, article_id: result.article_id, rank, action });
    if (event.target.closest(".result-title")) {
      event.preventDefault();
      track("open");
      this.openArticle(result.article_id, result.url.split("#")[1]);
    } else if (event.target.closest(".copy-snippet")) {
      track("copy");
      this.copy(event.target, result.snippet);
    } else if (event.target.closest(".copy-link")) {
      track("link");
      this.copy(event.target, result.deepLink);
    }
  }

  titles() {
    return [...document.querySelectorAll(".result-title")];
  }

  onKey(event) {
    const q = $("q");
    const typing = event.target instanceof HTMLInputElement
      || event.target instanceof HTMLTextAreaElement || event.target.isContentEditable;
    if (event.key === "/" && !typing) {
      event.preventDefault();
      if (this.article) this.closeArticle();
      q.focus();
      q.select();
    } else if (event.key === "Escape") {
      if (this.article) { this.closeArticle(); return; }
      if (document.activeElement === q) { q.value = ""; this.clearResults(); }
      else q.focus();
    } else if ((event.key === "ArrowDown" || event.key === "ArrowUp") && !this.article) {
      const titles = this.titles();
      if (!titles.length || event.target instanceof HTMLSelectElement) return;
      event.preventDefault();
      const current = titles.indexOf(document.activeElement);
      const step = event.key === "ArrowDown" ? 1 : -1;
      const next = current === -1 ? (step > 0 ? 0 : -1) : current + step;
      if (next < 0) q.focus();
      else titles[Math.min(next, titles.length - 1)].focus();
    }
  }

  onMessage(event) {
    if (event.source !== window.parent || window.parent === window) return;
    const data = event.data || {};
    if (data.type === "deskmate:config" && typeof data.apiKey === "string") {
      this.api.hostKey = data.apiKey;
    } else if (data.type === "deskmate:search" && typeof data.q === "string") {
      if (this.article) this.closeArticle(false);
      this.setQuery(data.q);
    }
  }

  // --- article view ----------------------------------------------------------------

  async openArticle(id, section) {
    $("status").textContent = this.t("loading");
    let data;
    try {
      data = await this.api.article(id);
    } catch (error) {
      this.showError(error);
      return;
    }
    this.article = { data, section: section || data.sections[0]?.anchor || "" };
    this.renderArticle();
    $("results-view").hidden = true;
    $("article-view").hidden = false;
    $("status").textContent = data.title;
    const target = section && document.getElementById(section);
    const focusTarget = target || $("article").querySelector("h1") || $("back");
    focusTarget.setAttribute("tabindex", "-1");
    focusTarget.focus();
    focusTarget.scrollIntoView({ block: "start" });
  }

  renderArticle() {
    const { data } = this.article;
    const meta = [badge(data.lang, "lang")];
    if (data.stale) meta.push(badge(this.t("stale"), "stale"));
    if (data.audience === "internal") meta.push(badge(this.t("internal"), "internal"));
    if (data.updated) meta.push(el("span", {}, `${this.t("updated")} ${data.updated}`));
    if (data.owner) meta.push(el("span", { dir: "auto" }, `${this.t("owner")}: ${data.owner}`));
    const translations = Object.entries(data.translations);
    if (translations.length) {
      meta.push(el("span", {}, this.t("alsoIn"), ...translations.map(([lang, id]) =>
        el("button", { type: "button", class: "translation", dataset: { article: id } }, lang))));
    }
    $("article-meta").replaceChildren(...meta);
    const body = $("article");
    body.replaceChildren(articleBody(data.html));
    for (const section of data.sections.filter((s) => s.internal)) {
      document.getElementById(section.anchor)?.append(" ", badge(this.t("internalSection"), "internal"));
    }
    $("article-meta").onclick = (e) => {
      const id = e.target.closest("[data-article]")?.dataset.article;
      if (id) this.openArticle(id);
    };
  }

  onArticleClick(event) {
    const link = event.target.closest("a[data-article]");
    if (link) {
      event.preventDefault();
      const [, anchor] = (link.getAttribute("href") || "").split("#");
      this.openArticle(link.dataset.article, anchor);
    }
  }

  closeArticle(restoreFocus = true) {
    const openedFrom = this.article?.data.id;
    this.article = null;
    $("article-view").hidden = true;
    $("results-view").hidden = false;
    this.renderResults();
    if (!restoreFocus) return;
    const index = this.results.findIndex((r) => r.article_id === openedFrom);
    (index >= 0 ? this.titles()[index] : $("q")).focus();
  }

  trackArticle(action) {
    const id = this.article.data.id;
    const rank = this.results.findIndex((r) => r.article_id === id) + 1;
    if (this.searchId && rank) this.api.event({ search_id: this.searchId, article_id: id, rank, action });
  }

  sectionText() {
    const { data, section } = this.article;
    const match = data.sections.find((s) => s.anchor === section) || data.sections[0];
    return match ? `${match.heading_path.join(" › ")}\n\n${match.text}` : data.markdown;
  }

  // --- actions ----------------------------------------------------------------------

  deepLink(id, section) {
    const url = new URL("/sidebar", location.origin);
    url.searchParams.set("article", id);
    if (section) url.searchParams.set("section", section);
    return url.toString();
  }

  async copy(button, text) {
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      const area = el("textarea", { class: "visually-hidden" }, text);
      document.body.append(area);
      area.select();
      document.execCommand("copy");
      area.remove();
    }
    const label = button.textContent;
    button.textContent = this.t("copied");
    setTimeout(() => { button.textContent = label; }, 1200);
  }

  showFeedback(available) {
    this.feedback = available;
    document.body.classList.toggle("no-feedback", !available);
  }

  async sendFeedback(body) {
    try {
      await this.api.feedback(body);
      return true;
    } catch (error) {
      if (error instanceof ApiError && error.status === 404 && !error.problem?.type?.includes("not-found")) {
        this.showFeedback(false);
      }
      return false;
    }
  }

  async vote(helpful) {
    const { data, section } = this.article;
    if (await this.sendFeedback({ search_id: this.searchId, article_id: data.id, section, helpful })) {
      $("status").textContent = this.t("thanks");
    }
  }

  async tellOwners() {
    const top = this.results[0];
    const body = { search_id: this.searchId, article_id: top?.article_id, helpful: false,
                   comment: `no good match: ${this.query}` };
    if (await this.sendFeedback(body)) {
      $("tell-owners").disabled = true;
      $("tell-owners").textContent = this.t("told");
    }
  }
}

new Sidebar().start();
