// The KB owners' page: analytics from GET /v1/admin/analytics, drawn with DOM and SVG
// nodes only (KB text and queries are always text nodes).
import { Api, ApiError } from "./api.js";
import { el } from "./render.js";

const $ = (id) => document.getElementById(id);
const api = new Api(localStorage);
const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

function percent(value) {
  return value === null || value === undefined ? "–" : `${Math.round(value * 1000) / 10} %`;
}

function renderSummary(summary) {
  const cards = [
    ["Searches", summary.searches], ["Success rate", percent(summary.success_rate)],
    ["No good match", percent(summary.no_good_match_rate)],
    ["Helpful votes", percent(summary.helpful_rate)],
    ["Median latency", summary.median_latency_ms === null ? "–" : `${summary.median_latency_ms} ms`],
    ["Feedback", summary.feedback], ["Clicks", summary.events],
  ];
  $("summary").replaceChildren(...cards.map(([label, value]) =>
    el("div", { class: "card" }, el("strong", {}, String(value)), el("span", {}, label))));
}

function chart(rows, valueOf, kind) {
  const width = 600, height = 160, pad = 24;
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img" });
  if (!rows.length) {
    root.append(svg("text", { x: pad, y: height / 2 }, "no searches in this period"));
    return root;
  }
  const max = Math.max(...rows.map(valueOf), kind === "rate" ? 1 : 1);
  const step = (width - 2 * pad) / rows.length;
  const y = (v) => height - pad - (v / max) * (height - 2 * pad);
  const points = [];
  rows.forEach((row, i) => {
    const x = pad + i * step;
    if (kind === "bars") {
      root.append(svg("rect", { class: "bar", x: x + 1, width: Math.max(step - 2, 1),
                                y: y(valueOf(row)), height: height - pad - y(valueOf(row)) }));
    } else {
      points.push(`${x + step / 2},${y(valueOf(row))}`);
      root.append(svg("circle", { class: "dot", cx: x + step / 2, cy: y(valueOf(row)), r: 3 }));
    }
  });
  if (points.length) root.append(svg("polyline", { class: "line", points: points.join(" ") }));
  root.append(svg("text", { x: pad, y: height - 6 }, rows[0][0]),
              svg("text", { x: width - pad, y: height - 6, "text-anchor": "end" }, rows.at(-1)[0]),
              svg("text", { x: 4, y: pad }, kind === "rate" ? percent(max) : String(max)));
  root.setAttribute("aria-label", `${rows.length} days`);
  return root;
}

function table(name, data, { limit = 20, pick } = {}) {
  const columns = pick || data.columns;
  const index = columns.map((c) => data.columns.indexOf(c));
  const rows = data.rows.slice(0, limit);
  const link = el("button", { type: "button", class: "csv" }, "CSV");
  link.addEventListener("click", () => downloadCsv(name));
  if (!rows.length) return [el("p", { class: "empty" }, "Nothing here."), link];
  const total = data.total ?? data.rows.length;
  const more = total > rows.length
    ? [el("p", { class: "more" }, `${rows.length} of ${total.toLocaleString()}; the CSV has them all.`)]
    : [];
  return [el("table", {},
    el("thead", {}, el("tr", {}, columns.map((c) => el("th", { scope: "col" }, c.replaceAll("_", " "))))),
    el("tbody", {}, rows.map((row) => el("tr", {}, index.map((i) =>
      el("td", { dir: "auto" }, row[i] === null ? "–" : String(row[i]))))))), ...more, link];
}

async function downloadCsv(name) {
  const query = periodQuery();
  query.set("format", "csv");
  query.set("table", name);
  const response = await fetch(`/v1/admin/analytics?${query}`, { headers: api.key ? { "X-API-Key": api.key } : {} });
  const url = URL.createObjectURL(await response.blob());
  const a = el("a", { href: url, download: `deskmate-${name}.csv` });
  document.body.append(a);
  a.click();
  a.remove();
  URL.revokeObjectURL(url);
}

function periodQuery() {
  const query = new URLSearchParams();
  for (const [id, name] of [["from", "from"], ["to", "to"], ["lang", "lang"]]) {
    if ($(id).value.trim()) query.set(name, $(id).value.trim());
  }
  return query;
}

async function load() {
  $("status").textContent = "Loading…";
  let report;
  try {
    report = await api.request(`/v1/admin/analytics?${periodQuery()}`);
  } catch (error) {
    const status = error instanceof ApiError ? error.status : 0;
    $("key-view").hidden = !(status === 401 || status === 403);
    $("status").textContent = status === 401 || status === 403
      ? "An admin API key is needed." : `Could not load analytics: ${error.message}`;
    return;
  }
  const t = report.tables;
  renderSummary(report.summary);
  $("chart-searches").replaceChildren(chart(t.per_day.rows, (r) => r[1], "bars"));
  $("chart-weak").replaceChildren(chart(t.per_day.rows, (r) => r[3] ?? 0, "rate"));
  $("content_gaps").replaceChildren(...table("content_gaps", t.content_gaps));
  $("stale_articles").replaceChildren(...table("stale_articles", t.stale_articles));
  $("least_helpful").replaceChildren(...table("least_helpful", t.least_helpful));
  $("top_queries").replaceChildren(...table("top_queries", t.top_queries));
  $("articles_by_use").replaceChildren(...table("articles_by_use", t.articles_by_use));
  $("never_used").replaceChildren(...table("never_used", t.never_used));
  $("report").hidden = false;
  $("status").textContent = `${report.summary.searches} searches from ${report.period.from.slice(0, 10)}`;
  document.body.dataset.ready = "true";
}

$("period").addEventListener("submit", (e) => { e.preventDefault(); load(); });
$("key-form").addEventListener("submit", (e) => {
  e.preventDefault();
  api.saveKey($("api-key").value.trim());
  $("key-view").hidden = true;
  load();
});
load();
