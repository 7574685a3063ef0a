// DOM building. KB text only ever enters the page as text nodes, or as the server's
// sanitized article HTML, re-checked here before it is adopted.

export function el(tag, attrs = {}, ...children) {
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
export function highlighted(text, highlights) {
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

export function badge(text, kind) {
  return el("span", { class: `badge badge-${kind}` }, text);
}

export function resultCard(result, index, t) {
  const badges = [badge(result.lang, "lang")];
  if (result.stale) badges.push(badge(t("stale"), "stale"));
  if (result.audience === "internal") badges.push(badge(t("internal"), "internal"));
  return el("li", { class: "result", dataset: { articleId: result.article_id } },
    el("a", { class: "result-title", href: result.deepLink, id: `result-${index}`,
              dir: "auto", dataset: { index: String(index) } }, result.title),
    el("p", { class: "result-section", dir: "auto" }, result.section),
    el("p", { class: "snippet", dir: "auto" }, highlighted(result.snippet, result.highlights)),
    el("div", { class: "result-foot" },
      el("span", { class: "badges" }, badges,
        result.tags.map((tag) => badge(tag, "tag"))),
      el("span", { class: "actions" },
        el("button", { type: "button", class: "copy-snippet" }, t("copySnippet")),
        el("button", { type: "button", class: "copy-link" }, t("copyLink")))));
}

const SAFE_URL = /^(https?:|mailto:|#|[^:]*$)/i;
const DROP = new Set(["SCRIPT", "STYLE", "IFRAME", "OBJECT", "EMBED", "FORM", "LINK", "META", "BASE"]);

// Parse the server's sanitized HTML into inert nodes and strip anything active that
// slipped through (defence in depth: the server already escapes raw HTML).
export function articleBody(html) {
  const parsed = new DOMParser().parseFromString(html, "text/html");
  for (const node of [...parsed.body.querySelectorAll("*")]) {
    if (DROP.has(node.tagName)) { node.remove(); continue; }
    for (const attr of [...node.attributes]) {
      const name = attr.name.toLowerCase();
      const url = name === "href" || name === "src" || name === "xlink:href";
      if (name.startsWith("on") || name === "style" || (url && !SAFE_URL.test(attr.value.trim()))) {
        node.removeAttribute(attr.name);
      }
    }
    if (node.tagName === "A") {
      const href = node.getAttribute("href") || "";
      if (/^https?:/i.test(href)) {
        node.target = "_blank";
        node.rel = "noopener noreferrer";
      } else if (href && !href.startsWith("#") && !/^mailto:/i.test(href)) {
        node.dataset.article = href.split("#")[0];
      }
    }
  }
  const fragment = document.createDocumentFragment();
  fragment.append(...[...parsed.body.childNodes].map((n) => document.adoptNode(n)));
  return fragment;
}
