// The console's other views: articles, bans, the blocklist, the audit log and the dashboard.
import { call } from "./api.js";
import { announce, h, safeUrl, timeEl } from "./dom.js";

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
const pages = { articles: null, audit: null };

const report = (error) => announce(error.message);

// --- articles ---------------------------------------------------------------------------------

// Bumped by every list load and every save: a list answer that arrives after a newer load,
// or after a save it may predate, is dropped rather than drawn over the newer state.
let articlesVersion = 0;

async function updateArticle(article, changes, row) {
  articlesVersion += 1;
  try {
    const updated = await call("PUT", `/articles/${encodeURIComponent(article.key)}`, { body: changes });
    // The row on screen now: a list load may have redrawn the list since the click.
    const shown = [...$("articles").children].find((li) => li.dataset.key === article.key) || row;
    shown.replaceWith(articleRow({ ...article, ...updated }));
    announce(`Saved ${article.key}.`);
  } catch (error) { report(error); }
}

function articleRow(article) {
  const title = h("input", { name: "title", value: article.title || "", maxlength: 300, "aria-label": `Title of ${article.key}` });
  const url = h("input", { name: "url", type: "url", value: article.url || "", "aria-label": `URL of ${article.key}` });
  const row = h("li.row", { dataset: { key: article.key } },
    h("div", {},
      article.url && safeUrl(article.url)
        ? h("a", { href: article.url, target: "_blank", rel: "noopener noreferrer" }, article.title || article.key)
        : h("strong", {}, article.title || article.key),
      " ", h("code", {}, article.key),
      h("p.meta", {}, `${article.comment_count} comments · ${article.pending ?? 0} pending · ${article.open_flags ?? 0} open flags · `,
        article.comments_closed ? "closed" : "open", ` · ${article.moderation}-moderated`,
        article.last_activity_at ? [" · active ", timeEl(article.last_activity_at)] : null)),
    h("div.actions", {},
      h("button", { type: "button", onclick: () => updateArticle(article, { comments_closed: !article.comments_closed }, row) },
        article.comments_closed ? "Reopen comments" : "Close comments"),
      h("button", { type: "button", onclick: () => updateArticle(article, { moderation: article.moderation === "pre" ? "post" : "pre" }, row) },
        article.moderation === "pre" ? "Publish at once (post-moderate)" : "Hold every comment (pre-moderate)"),
      h("form.inline", {
        onsubmit: (event) => { event.preventDefault(); updateArticle(article, { title: title.value, url: url.value }, row); },
      }, title, url, h("button", { type: "submit" }, "Save title and URL"))));
  return row;
}

async function loadArticles(more) {
  const form = new FormData($("articles-filter"));
  const query = { q: form.get("q").trim(), sort: form.get("sort"), limit: 20, cursor: more ? pages.articles : null };
  const version = (articlesVersion += 1);
  try {
    const page = await call("GET", "/articles", { query });
    if (version !== articlesVersion) return;  // a newer load or a save came meanwhile
    if (!more) $("articles").replaceChildren();
    $("articles").append(...page.articles.map(articleRow));
    pages.articles = page.next_cursor;
    $("articles-more").hidden = !page.next_cursor;
    announce(`${page.articles.length} articles.`);
  } catch (error) { report(error); }
}

// --- bans -------------------------------------------------------------------------------------

async function loadBans() {
  try {
    const { bans } = await call("GET", "/bans");
    $("bans").replaceChildren(...bans.map((ban) => {
      const row = h("li.row", {},
        h("div", {}, h("strong", {}, ban.reason),
          h("p.meta", {}, `by ${ban.actor} `, timeEl(ban.created_at), " · ",
            ban.expires_at ? ["until ", timeEl(ban.expires_at)] : "permanent",
            ban.comment_id ? ` · for comment ${ban.comment_id}` : "")),
        h("button", {
          type: "button",
          onclick: async () => {
            try { await call("DELETE", `/bans/${ban.id}`); row.remove(); announce("Ban lifted."); } catch (error) { report(error); }
          },
        }, "Lift ban"));
      return row;
    }));
    $("bans-empty").hidden = bans.length > 0;
    announce(`${bans.length} bans in force.`);
  } catch (error) { report(error); }
}

// --- blocklist --------------------------------------------------------------------------------

async function loadBlocklist() {
  // Until the stored list arrives nothing can be typed, since it would then be overwritten.
  const controls = $("blocklist").querySelectorAll("textarea, select, button");
  for (const control of controls) control.disabled = true;
  $("blocklist").setAttribute("aria-busy", "true");
  try {
    const list = await call("GET", "/blocklist");
    $("blocklist-words").value = list.words.join("\n");
    $("blocklist-action").value = list.action;
  } catch (error) { report(error); } finally {
    for (const control of controls) control.disabled = false;
    $("blocklist").setAttribute("aria-busy", "false");
  }
}

async function saveBlocklist(event) {
  event.preventDefault();
  const words = $("blocklist-words").value.split("\n").map((w) => w.trim()).filter(Boolean);
  try {
    const list = await call("PUT", "/blocklist", { body: { words, action: $("blocklist-action").value } });
    $("blocklist-words").value = list.words.join("\n");
    announce(`Blocklist saved: ${list.words.length} words.`);
  } catch (error) { report(error); }
}

// --- audit ------------------------------------------------------------------------------------

// Bumped by every new (not "more") load: opening the log and filtering at once must not
// let the slower, unfiltered answer replace the filtered one.
let auditGeneration = 0;

async function loadAudit(more) {
  const form = new FormData($("audit-filter"));
  const query = { limit: 50, cursor: more ? pages.audit : null };
  for (const name of ["actor", "action", "target"]) query[name] = form.get(name).trim();
  const generation = more ? auditGeneration : ++auditGeneration;
  try {
    const page = await call("GET", "/audit", { query });
    if (generation !== auditGeneration) return;
    if (!more) $("audit").replaceChildren();
    $("audit").append(...page.entries.map((entry) => h("tr", {},
      h("td", {}, timeEl(entry.at)), h("td", {}, entry.actor), h("td", {}, entry.action), h("td", {}, entry.target),
      h("td", {}, h("code", {}, JSON.stringify(entry.details))))));
    pages.audit = page.next_cursor;
    $("audit-more").hidden = !page.next_cursor;
    announce(`${page.entries.length} audit entries.`);
  } catch (error) { report(error); }
}

// --- dashboard --------------------------------------------------------------------------------

const svg = (name, attrs, ...children) => {
  const el = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  el.append(...children);
  return el;
};

const SERIES = [
  ["approved", "Published"], ["pending", "Pending"], ["rejected", "Rejected"], ["spam", "Spam"],
];

/** Comments per day as stacked bars by status, flags and views as lines on their own scales. */
function chart(days) {
  const width = 720, height = 260, left = 36, bottom = 24, top = 12;
  const plotH = height - bottom - top, step = (width - left) / days.length;
  const total = (d) => SERIES.reduce((sum, [status]) => sum + d.comments[status], 0);
  const maxComments = Math.max(1, ...days.map(total));
  const maxFlags = Math.max(1, ...days.map((d) => d.flags));
  const maxViews = Math.max(1, ...days.map((d) => d.views));
  const y = (value, max) => top + plotH - (value / max) * plotH;
  const bars = days.flatMap((d, i) => {
    let base = 0;
    return SERIES.map(([status]) => {
      const n = d.comments[status];
      const rect = svg("rect", { class: `col ${status}`, x: left + i * step + 1, width: Math.max(1, step - 2),
        y: y(base + n, maxComments), height: (n / maxComments) * plotH }, svg("title", {}, `${d.date}: ${n} ${status}`));
      base += n;
      return rect;
    });
  });
  const line = (key, max) => svg("polyline", { class: `line ${key}`, fill: "none",
    points: days.map((d, i) => `${left + i * step + step / 2},${y(d[key], max)}`).join(" ") });
  const label = (text, x, yy, anchor = "start") => svg("text", { x, y: yy, "text-anchor": anchor }, text);
  const description = `Comments per day, at most ${maxComments}; flags at most ${maxFlags}; views at most ${maxViews}, from ${days[0].date} to ${days.at(-1).date}.`;
  return svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": description },
    svg("line", { class: "axis", x1: left, x2: width, y1: top + plotH, y2: top + plotH }),
    label(String(maxComments), left - 4, top + 8, "end"), label("0", left - 4, top + plotH, "end"),
    label(days[0].date, left, height - 6), label(days.at(-1).date, width, height - 6, "end"),
    ...bars, line("flags", maxFlags), line("views", maxViews));
}

function legend() {
  const items = [...SERIES.map(([status, name]) => [`col ${status}`, `${name} comments`]),
    ["line flags", "Flags (own scale)"], ["line views", "Views (own scale)"]];
  return h("figcaption", {}, h("ul.legend", {}, items.map(([cls, name]) => h("li", {}, h(`span.swatch.${cls.replace(" ", ".")}`, { "aria-hidden": "true" }), name))));
}

async function loadDashboard() {
  try {
    const [{ days }, { articles }] = await Promise.all([
      call("GET", "/stats/daily", { query: { days: 30 } }),
      call("GET", "/articles", { query: { sort: "activity", limit: 5 } }),
    ]);
    $("chart").replaceChildren(chart(days), legend());
    $("busiest").replaceChildren(...articles.map((a) => h("li.row", {}, h("div", {},
      h("strong", {}, a.title || a.key), h("p.meta", {}, `${a.comment_count} comments · ${a.pending} pending · ${a.open_flags} open flags · active `, timeEl(a.last_activity_at))))));
    const sum = days.reduce((n, d) => n + SERIES.reduce((m, [s]) => m + d.comments[s], 0), 0);
    announce(`Dashboard: ${sum} comments in 30 days.`);
  } catch (error) { report(error); }
}

export const loaders = { articles: () => loadArticles(false), bans: loadBans, blocklist: loadBlocklist, audit: () => loadAudit(false), dashboard: loadDashboard };

export function setupPanels() {
  $("articles-filter").addEventListener("submit", (event) => { event.preventDefault(); loadArticles(false); });
  $("articles-more").addEventListener("click", () => loadArticles(true));
  $("blocklist").addEventListener("submit", saveBlocklist);
  $("audit-filter").addEventListener("submit", (event) => { event.preventDefault(); loadAudit(false); });
  $("audit-more").addEventListener("click", () => loadAudit(true));
}
