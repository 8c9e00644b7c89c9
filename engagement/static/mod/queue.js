// The queue: tabs with counts, cards, one-key decisions with undo, bulk decisions, bans,
// an author's other comments and a comment's earlier versions.
import { call } from "./api.js";
import { announce, h, safeUrl, sanitisedBody, timeEl } from "./dom.js";

const UNDO_MS = 6000;
const PAGE = 20;
const BAN_DURATIONS = [["24", "1 day"], ["168", "7 days"], ["720", "30 days"], ["", "Permanent"]];
const VERB = { approved: "Approved", rejected: "Rejected", spam: "Marked as spam", pending: "Put back to pending" };

const $ = (id) => document.getElementById(id);
const state = {
  status: "pending", q: "", article: "", cursor: null, current: -1, role: "moderator", undo: null, generation: 0,
};

const cards = () => [...$("queue").children];

function articleLink(comment) {
  const title = comment.article_title || comment.article;
  return comment.article_url && safeUrl(comment.article_url)
    ? h("a", { href: comment.article_url, target: "_blank", rel: "noopener noreferrer" }, title)
    : h("span", {}, title);
}

function flagSummary(flags) {
  if (!flags.open) return null;
  const reasons = Object.entries(flags.reasons).map(([reason, n]) => `${reason.replace("_", " ")} ${n}`).join(", ");
  return h("div.flags", {},
    h("p", {}, h("strong", {}, `${flags.open} open flag${flags.open === 1 ? "" : "s"}`), `: ${reasons}`),
    flags.notes.length ? h("ul", {}, flags.notes.map((n) => h("li", {}, `${n.reason.replace("_", " ")}: “${n.note}”`))) : null);
}

function miniComment(comment) {
  return h("li", {}, h("span.badge", {}, comment.status), " ", timeEl(comment.created_at), " · ",
    articleLink(comment), h("div.body", {}, sanitisedBody(comment.body_html)));
}

async function showAuthor(comment, box, button) {
  button.disabled = true;
  try {
    const page = await call("GET", "/comments", { query: { author_of: comment.id, status: "all", limit: 20 } });
    const others = page.comments.filter((c) => c.id !== comment.id);
    box.replaceChildren(h("h4", {}, "Other comments by this author"),
      others.length ? h("ol.mini", {}, others.map(miniComment)) : h("p", {}, "None."));
    announce(`${others.length} other comment${others.length === 1 ? "" : "s"} by this author.`);
  } catch (error) { announce(error.message); button.disabled = false; }
}

async function showRevisions(comment, box, button) {
  button.disabled = true;
  try {
    const { revisions } = await call("GET", `/comments/${comment.id}/revisions`);
    box.replaceChildren(h("h4", {}, "Earlier versions"), h("ol.mini", {}, revisions.map((r) =>
      h("li", {}, `Version ${r.revision}, written `, timeEl(r.edited_at), `, replaced by ${r.actor || r.editor} `,
        timeEl(r.replaced_at), h("div.body", {}, sanitisedBody(r.body_html))))));
    announce(`${revisions.length} earlier version${revisions.length === 1 ? "" : "s"}.`);
  } catch (error) { announce(error.message); button.disabled = false; }
}

function banForm(comment, box) {
  const reason = h("input", { name: "reason", required: true, maxlength: 500 });
  const duration = h("select", { name: "duration" }, BAN_DURATIONS.map(([v, label]) => h("option", { value: v }, label)));
  const form = h("form.ban", {
    onsubmit: async (event) => {
      event.preventDefault();
      const body = { comment_id: comment.id, reason: reason.value };
      if (duration.value) body.duration_hours = Number(duration.value);
      try {
        await call("POST", "/bans", { body });
        box.replaceChildren(h("p", {}, "Author banned."));
        announce("The author is banned.");
      } catch (error) { announce(error.message); }
    },
  }, h("label", {}, "Reason ", reason), h("label", {}, "Duration ", duration), h("button", { type: "submit" }, "Ban author"));
  box.replaceChildren(form);
  reason.focus();
}

function editForm(li, box) {
  const comment = li.comment;
  const text = h("textarea", { name: "body", rows: 5, required: true, maxlength: 10000 });
  text.value = comment.body_source;  // Markdown as typed: a form value, never HTML
  const form = h("form.edit", {
    onsubmit: async (event) => {
      event.preventDefault();
      try {
        const updated = await call("PATCH", `/comments/${comment.id}`, { body: { body: text.value } });
        const fresh = card(updated);
        li.replaceWith(fresh);
        focusCard(cards().indexOf(fresh));
        announce(`Comment ${comment.id} edited; the earlier text is kept.`);
      } catch (error) { announce(error.message); }
    },
  }, h("label", {}, "Text (Markdown) ", text), h("button", { type: "submit" }, "Save edit"));
  box.replaceChildren(form);
  text.focus();
}

function card(comment) {
  const extra = h("div.extra", {});
  const actions = h("div.actions", {},
    h("button", { type: "button", "aria-keyshortcuts": "a", onclick: () => decide(li, "approved") }, "Approve"),
    h("button", { type: "button", "aria-keyshortcuts": "r", onclick: () => decide(li, "rejected") }, "Reject"),
    h("button", { type: "button", "aria-keyshortcuts": "s", onclick: () => decide(li, "spam") }, "Spam"),
    comment.parent_id === null
      ? h("button", { type: "button", "aria-keyshortcuts": "p", onclick: () => togglePin(li) }, comment.pinned ? "Unpin" : "Pin")
      : null,
    comment.purged_at ? null : h("button", { type: "button", onclick: () => editForm(li, extra) }, "Edit"),
    h("button", { type: "button", onclick: () => banForm(comment, extra) }, "Ban author…"),
    h("button", { type: "button", onclick: (e) => showAuthor(comment, extra, e.currentTarget) }, "Other comments by this author"),
    state.role === "admin" ? h("button.danger", { type: "button", onclick: (e) => purge(li, e.currentTarget) }, "Purge") : null);
  const li = h("li.card", { tabindex: "-1", dataset: { id: comment.id, article: comment.article }, "aria-label": `Comment ${comment.id} by ${comment.author.name}` },
    h("div.head", {},
      h("input", { type: "checkbox", "aria-label": "Select", "aria-keyshortcuts": "x" }),
      h("strong.author", {}, comment.author.name), " on ", articleLink(comment), " · ", timeEl(comment.created_at),
      comment.pinned ? h("span.badge.pinned", {}, "pinned") : null,
      comment.moderation_reason ? h("span.badge.reason", { title: "Why it was held" }, comment.moderation_reason) : null,
      comment.edited_at ? h("button.badge.edited", {
        type: "button", title: "Show the earlier versions", onclick: (e) => showRevisions(comment, extra, e.currentTarget),
      }, "edited") : null),
    comment.parent ? h("blockquote.parent", {}, h("p.in-reply", {}, `In reply to ${comment.parent.author_name}:`),
      h("div.body", {}, sanitisedBody(comment.parent.body_html))) : null,
    h("div.body", {}, sanitisedBody(comment.body_html)),
    flagSummary(comment.flags), actions, extra);
  li.comment = comment;
  li.addEventListener("focusin", () => { state.current = cards().indexOf(li); });
  return li;
}

function focusCard(index) {
  const list = cards();
  if (!list.length) { state.current = -1; $("queue-empty").hidden = false; return; }
  state.current = Math.max(0, Math.min(index, list.length - 1));
  list.forEach((li, i) => li.classList.toggle("current", i === state.current));
  list[state.current].focus();
}

/** Take the card out at once; put it back where it was if the service refuses. */
function takeOut(li) {
  const index = cards().indexOf(li);
  const next = li.nextSibling;
  li.remove();
  focusCard(index);
  return () => { $("queue").insertBefore(li, next && next.parentNode ? next : null); $("queue-empty").hidden = true; };
}

function offerUndo(text, undo) {
  clearTimeout(state.undo && state.undo.timer);
  $("toast-text").textContent = text;
  $("toast").hidden = false;
  state.undo = { run: undo, timer: setTimeout(() => { $("toast").hidden = true; state.undo = null; }, UNDO_MS) };
  announce(text);
}

export async function undoLast() {
  const undo = state.undo;
  if (!undo) return;
  clearTimeout(undo.timer);
  state.undo = null;
  $("toast").hidden = true;
  try { await undo.run(); announce("Undone."); refreshCounts(); } catch (error) { announce(error.message); }
}

async function decide(li, status) {
  const comment = li.comment;
  if (comment.status === status && !comment.flags.open) { announce(`Already ${status}.`); return; }
  const putBack = takeOut(li);
  try {
    await call("PATCH", `/comments/${comment.id}`, { body: { status } });
    offerUndo(`${VERB[status]}: comment ${comment.id}.`, async () => {
      await call("PATCH", `/comments/${comment.id}`, { body: { status: comment.status } });
      putBack();
      focusCard(cards().indexOf(li));
    });
    refreshCounts();
  } catch (error) { putBack(); announce(error.message); }
}

async function bulk(status) {
  const chosen = cards().filter((li) => li.querySelector("input[type=checkbox]").checked);
  if (!chosen.length) { announce("Nothing selected: press x on a comment to select it."); return; }
  const undos = chosen.map((li) => ({ li, before: li.comment.status, putBack: takeOut(li) }));
  updateSelection();
  try {
    const { updated } = await call("POST", "/comments/bulk", { body: { ids: chosen.map((li) => li.comment.id), status } });
    offerUndo(`${VERB[status]}: ${updated} comment${updated === 1 ? "" : "s"}.`, async () => {
      for (const before of new Set(undos.map((u) => u.before))) {
        const ids = undos.filter((u) => u.before === before).map((u) => u.li.comment.id);
        await call("POST", "/comments/bulk", { body: { ids, status: before } });
      }
      undos.reverse().forEach((u) => u.putBack());
    });
    refreshCounts();
  } catch (error) { undos.reverse().forEach((u) => u.putBack()); announce(error.message); }
}

async function togglePin(li) {
  if (li.comment.parent_id !== null) { announce("Only top-level comments can be pinned."); return; }
  try {
    const updated = await call("PATCH", `/comments/${li.comment.id}`, { body: { pinned: !li.comment.pinned } });
    const fresh = card(updated);
    li.replaceWith(fresh);
    focusCard(cards().indexOf(fresh));
    announce(updated.pinned ? "Pinned." : "Unpinned.");
  } catch (error) { announce(error.message); }
}

/** Purging erases for good, so it takes a second click on the same button (no modal dialog). */
async function purge(li, button) {
  if (button.dataset.armed !== "yes") {
    button.dataset.armed = "yes";
    button.textContent = "Really purge? Click again";
    announce("Purging erases the text and the author's details for good. Click again to purge.");
    return;
  }
  const putBack = takeOut(li);
  try { await call("DELETE", `/comments/${li.comment.id}`); announce(`Purged comment ${li.comment.id}.`); refreshCounts(); }
  catch (error) { putBack(); announce(error.message); }
}

function updateSelection() {
  const n = cards().filter((li) => li.querySelector("input[type=checkbox]").checked).length;
  $("selection").hidden = n === 0;
  $("selection-count").textContent = `${n} selected`;
}

export async function refreshCounts() {
  try {
    const counts = await call("GET", "/stats");
    for (const tab of $("tabs").children) tab.querySelector(".count").textContent = `(${counts[tab.dataset.status]})`;
  } catch { /* the counts are a courtesy; the queue itself reports errors */ }
}

async function loadPage(more) {
  const query = { status: state.status, q: state.q, article: state.article, limit: PAGE, cursor: more ? state.cursor : null };
  // Only the latest request's answer is shown: switching tabs or filters quickly must not
  // let a slower, older answer replace the newer list.
  const generation = more ? state.generation : ++state.generation;
  $("queue").setAttribute("aria-busy", "true");
  let page;
  try { page = await call("GET", "/comments", { query }); } finally {
    if (generation === state.generation) $("queue").setAttribute("aria-busy", "false");
  }
  if (generation !== state.generation) return null;
  if (!more) $("queue").replaceChildren();
  $("queue").append(...page.comments.map(card));
  state.cursor = page.next_cursor;
  $("queue-more").hidden = !state.cursor;
  $("queue-empty").hidden = cards().length > 0;
  return page.comments.length;
}

export async function showQueue() {
  state.current = -1;
  updateSelection();
  try {
    const n = await loadPage(false);
    if (n === null) return;
    announce(`${n}${state.cursor ? "+" : ""} ${state.status} comment${n === 1 ? "" : "s"}.`);
    if (n) focusCard(0);
  } catch (error) { announce(error.message); }
  refreshCounts();
}

function selectTab(tab) {
  for (const other of $("tabs").children) other.setAttribute("aria-selected", String(other === tab));
  state.status = tab.dataset.status;
  showQueue();
}

function onKey(event) {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const list = cards();
  const li = list[state.current];
  const actions = {
    j: () => focusCard(state.current + 1),
    k: () => focusCard(state.current - 1),
    a: () => li && decide(li, "approved"),
    r: () => li && decide(li, "rejected"),
    s: () => li && decide(li, "spam"),
    p: () => li && togglePin(li),
    x: () => { if (li) { const box = li.querySelector("input[type=checkbox]"); box.checked = !box.checked; updateSelection(); } },
    u: () => undoLast(),
    A: () => bulk("approved"),
    R: () => bulk("rejected"),
  };
  const action = actions[event.key];
  if (action) { event.preventDefault(); action(); }
}

/** Admin-only controls (purge) appear for admins. */
export function setRole(role) { state.role = role; }

/** Wire the queue's controls once; returns the queue's keyboard handler. */
export function setupQueue() {
  for (const tab of $("tabs").children) tab.addEventListener("click", () => selectTab(tab));
  $("queue-filter").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    state.q = form.get("q").trim();
    state.article = form.get("article").trim();
    showQueue();
  });
  $("queue-more").addEventListener("click", async () => {
    try { const n = await loadPage(true); if (n !== null) announce(`${n} more.`); } catch (error) { announce(error.message); }
  });
  $("queue").addEventListener("change", updateSelection);
  $("bulk-approve").addEventListener("click", () => bulk("approved"));
  $("bulk-reject").addEventListener("click", () => bulk("rejected"));
  $("toast-undo").addEventListener("click", undoLast);
  return onKey;
}
