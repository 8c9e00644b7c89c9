/* engagement comment widget: <div data-engagement-article="KEY"></div> + <script src=".../embed.js" async></script>.
   Plain JavaScript, no framework, no build step. Works under a strict CSP: no inline script or style, no eval.
   Only body_html (sanitised by the server, filtered again below) is parsed as HTML; every other string is text. */
(() => {
  "use strict";
  const script = document.currentScript;
  if (window.EngagementWidget) { window.EngagementWidget.scan(); return; }

  // The server replaces this placeholder with the stylesheet's content hash when it starts.
  const CSS_PATH = "/embed.__ENGAGEMENT_CSS__.css";
  const SCRIPT_ORIGIN = script && script.src ? new URL(script.src, location.href).origin : "";
  const KEY_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$/;
  const DEFAULT_KINDS = ["like", "love", "insightful", "surprised", "sad", "angry"];
  const EMOJI = { like: "👍", love: "❤️", insightful: "💡", surprised: "😮", sad: "😢", angry: "😠", funny: "😂", thanks: "🙏" };
  const FLAG_REASONS = [["spam", "Spam"], ["abuse", "Abusive or hateful"], ["off_topic", "Off topic"], ["other", "Something else"]];
  const SORTS = [["oldest", "Oldest first"], ["newest", "Newest first"], ["top", "Top rated"]];
  const FIELD_FOR = { body: "body", author_name: "name", author_email: "email", author_url: "url" };
  // The server's validation text is for developers; readers get one plain sentence per field.
  const FIELD_PROBLEM = { body: "Please write your comment (up to 10,000 characters).", author_name: "Please keep the name under 80 characters.",
    author_email: "Please check the e-mail address.", author_url: "Please check the website address." };
  const DOWN = "The comment service is not answering right now. Try again in a moment.";
  const OWN_MAX = 200;
  const viewed = new Set();
  const widgets = new Set();
  let seq = 0;

  /* ---- small DOM helper: attributes and text only, never HTML ---- */
  const h = (tag, props, ...kids) => {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v == null || v === false) continue;
      if (k === "on") for (const [type, fn] of Object.entries(v)) el.addEventListener(type, fn);
      else if (k === "text") el.textContent = v;
      else if (k === "class") el.className = v;
      else el.setAttribute(k, v === true ? "" : String(v));
    }
    for (const kid of kids.flat()) if (kid != null && kid !== false) el.append(kid);
    return el;
  };
  const srOnly = (text) => h("span", { class: "eng-sr", text });
  const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;

  /* ---- storage: localStorage when allowed, memory otherwise (private modes, blocked storage) ---- */
  const memory = new Map();
  const store = {
    get(key, fallback) {
      try { const raw = localStorage.getItem(key); return raw == null ? fallback : JSON.parse(raw); }
      catch { return memory.has(key) ? memory.get(key) : fallback; }
    },
    set(key, value) {
      try { localStorage.setItem(key, JSON.stringify(value)); } catch { memory.set(key, value); }
    },
    del(key) { try { localStorage.removeItem(key); } catch { memory.delete(key); } },
  };

  /* ---- body_html: server-sanitised; an inert <template> pass enforces the same allowlist again ---- */
  const ALLOWED = { P: [], BR: [], EM: [], STRONG: [], DEL: [], S: [], CODE: ["class"], PRE: ["class"],
    BLOCKQUOTE: [], UL: [], OL: ["start"], LI: [], A: ["href", "title", "rel"], HR: [] };
  let policy = null;
  try { if (window.trustedTypes) policy = trustedTypes.createPolicy("engagement", { createHTML: (s) => s }); } catch { policy = null; }
  const safeUrl = (href) => {
    try { return ["http:", "https:", "mailto:"].includes(new URL(href, location.href).protocol); } catch { return false; }
  };
  const cleanTree = (parent) => {
    for (const el of [...parent.children]) {
      const allowed = ALLOWED[el.tagName];
      if (!allowed) { el.remove(); continue; }
      for (const attr of [...el.attributes]) if (!allowed.includes(attr.name)) el.removeAttribute(attr.name);
      if (el.tagName === "A") {
        if (el.hasAttribute("href") && !safeUrl(el.getAttribute("href"))) el.removeAttribute("href");
        el.setAttribute("rel", "nofollow ugc noopener");
      }
      cleanTree(el);
    }
  };
  const bodyHtml = (html) => {
    const tpl = document.createElement("template");
    tpl.innerHTML = policy ? policy.createHTML(html || "") : html || "";
    cleanTree(tpl.content);
    return tpl.content;
  };

  /* ---- relative times ---- */
  const relative = (iso) => {
    const then = Date.parse(iso), s = (Date.now() - then) / 1000;
    if (s < 45) return "just now";
    if (s < 3600) return `${Math.max(1, Math.round(s / 60))} min ago`;
    if (s < 86400) return plural(Math.round(s / 3600), "hour", "hours") + " ago";
    if (s < 86400 * 30) return plural(Math.round(s / 86400), "day", "days") + " ago";
    return new Date(then).toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" });
  };
  const timeEl = (iso, cls) => h("time", { class: "eng-time " + (cls || ""), datetime: iso, title: iso, text: relative(iso) });

  /* ---- the API client, one per service origin ---- */
  class ApiError extends Error {
    constructor(status, code, message, fields, retryAfter) {
      super(message || code);
      Object.assign(this, { status, code, fields: fields || null, retryAfter: retryAfter || 0 });
    }
  }
  const clients = new Map();
  class Client {
    constructor(base) { this.base = base; this.ns = `engagement:${base}:`; this.minting = null; this.mintFailedAt = 0; }
    key(name) { return this.ns + name; }
    /** Resolve with a new reader token, or null when none can be had now (e.g. many readers
        behind one address): the service then knows the reader by address and browser. */
    mint() {
      if (Date.now() - this.mintFailedAt < 60000) return Promise.resolve(null);
      this.minting = this.minting || this.request("POST", "/api/v1/readers").then((data) => {
        store.set(this.key("reader"), data.reader_token);
        return data.reader_token;
      }, () => { this.mintFailedAt = Date.now(); return null; }).finally(() => { this.minting = null; });
      return this.minting;
    }
    /** Resolve with the JSON body (null for 204); reject with an ApiError (status 0 = network failure).
        opts.reader sends the reader token (minted on first need; a token answered with 401 is replaced once);
        opts.fresh revalidates instead of using a cached copy. */
    async request(method, path, body, opts = {}) {
      const headers = { Accept: "application/json" };
      if (body !== undefined) headers["Content-Type"] = "application/json";
      if (opts.edit) headers["X-Edit-Token"] = opts.edit;
      const token = opts.reader ? store.get(this.key("reader"), null) || await this.mint() : null;
      if (token) headers["X-Reader-Token"] = token;
      let res;
      try {
        res = await fetch(this.base + path, { method, headers, mode: "cors", credentials: "omit",
          cache: opts.fresh ? "no-cache" : "default",
          body: body === undefined ? undefined : JSON.stringify(body) });
      } catch {
        throw new ApiError(0, "network", DOWN);
      }
      if (res.status === 401 && token && !opts.retried) {
        // Forget the token unless a concurrent request has already replaced it.
        if (store.get(this.key("reader"), null) === token) store.del(this.key("reader"));
        return this.request(method, path, body, { ...opts, retried: true });
      }
      let data = null;
      if (res.status !== 204) { try { data = await res.json(); } catch { data = null; } }
      if (!res.ok) {
        const e = (data && data.error) || {};
        throw new ApiError(res.status, e.code || "http_" + res.status, e.message, e.fields,
          parseInt(res.headers.get("Retry-After"), 10));
      }
      return data;
    }
  }
  const clientFor = (base) => {
    if (!clients.has(base)) clients.set(base, new Client(base));
    return clients.get(base);
  };

  /* ---- messages people can act on ---- */
  const describe = (err) => {
    switch (err.code) {
      case "network": return DOWN;
      case "comments_closed": return "Comments are closed.";
      case "banned": return "You can't take part in this discussion.";
      case "rate_limited": return `Slow down: try again in ${plural(err.retryAfter || 30, "second", "seconds")}.`;
      case "conflict": return "You already posted that.";
      case "payload_too_large": return "That is too long to send.";
      case "not_found": return err.message && err.message !== "Not found." ? err.message : "That comment is no longer there.";
      default:
        if (err.status >= 500) return DOWN;
        return err.message || "That did not work.";
    }
  };
  const retryable = (err) => err.status === 0 || err.status >= 500;
  /** Show err in box (a live region); offer a retry button for network and server failures. */
  const showError = (box, err, retry) => {
    box.replaceChildren(h("span", { text: describe(err) }));
    box.classList.add("eng-error");
    if (retry && retryable(err)) {
      box.append(" ", h("button", { type: "button", class: "eng-link", on: { click: () => { clearMsg(box); retry(); } } }, "Retry"));
    }
  };
  const showInfo = (box, text) => { box.classList.remove("eng-error"); box.replaceChildren(text); };
  const clearMsg = (box) => { box.classList.remove("eng-error"); box.replaceChildren(); };

  /* ---- the widget: one per [data-engagement-article] element ---- */
  class Widget {
    constructor(root) {
      this.root = root;
      this.key = root.getAttribute("data-engagement-article") || "";
      const base = root.getAttribute("data-engagement-api") || SCRIPT_ORIGIN || location.origin;
      this.api = clientFor(base.replace(/\/+$/, ""));
      this.id = "eng" + ++seq;
      this.path = "/api/v1/articles/" + encodeURIComponent(this.key);
      this.sort = "oldest";
      this.limit = Math.min(100, Math.max(1, parseInt(root.getAttribute("data-engagement-limit"), 10) || 20));
      this.window = (parseFloat(root.getAttribute("data-engagement-edit-window")) || 15) * 60000;
      this.kinds = (root.getAttribute("data-engagement-reactions") || "").split(",").map((s) => s.trim()).filter(Boolean);
      this.closed = false;
      this.premod = false;
      // Held comments this reader posted during this page view: shown to them only, never stored.
      this.pending = new Map();
      this.count = 0;
      this.cursor = null;
      this.build();
      if (!KEY_RE.test(this.key)) { showError(this.status, new ApiError(422, "bad_key", "This comment section is misconfigured (bad article key).")); return; }
      this.loadThread(true);
      this.loadReactions();
      this.countView();
    }

    store(name) { return this.api.key(name); }
    edits() {
      const all = store.get(this.store("edits"), {}), now = Date.now();
      for (const [id, e] of Object.entries(all)) if (!e || now - e.createdAt > this.window) delete all[id];
      return all;
    }
    saveEdit(id, entry) {
      const all = this.edits();
      if (entry) all[id] = entry; else delete all[id];
      store.set(this.store("edits"), all);
    }
    // Ids of this reader's comments outlive the edit tokens: no voting on or reporting oneself later either.
    ownIds() { return store.get(this.store("own"), []); }
    rememberOwn(id) { store.set(this.store("own"), [...this.ownIds().filter((x) => x !== id), id].slice(-OWN_MAX)); }
    // Thread pages may be cached for a few seconds; after this reader changed the thread, revalidate.
    changed() {
      const all = store.get(this.store("changed"), {}), now = Date.now();
      for (const [k, at] of Object.entries(all)) if (now - at > 60000) delete all[k];
      all[this.key] = now;
      store.set(this.store("changed"), all);
    }
    recentlyChanged() { return Date.now() - (store.get(this.store("changed"), {})[this.key] || 0) < 60000; }
    emit(name, detail) {
      this.root.dispatchEvent(new CustomEvent("engagement:" + name, { bubbles: true, detail: { article: this.key, ...detail } }));
    }

    build() {
      const id = this.id;
      this.status = h("p", { class: "eng-status", role: "status", "aria-live": "polite" });
      this.reactions = h("div", { class: "eng-reactions", role: "group", "aria-label": "Reactions to this article" });
      this.heading = h("h2", { class: "eng-heading", id: id + "-h" }, "Comments");
      this.sortSelect = h("select", { id: id + "-sort", class: "eng-select", on: { change: () => {
        this.sort = this.sortSelect.value;
        this.loadThread(true);
      } } }, SORTS.map(([v, label]) => h("option", { value: v, text: label })));
      this.closedNote = h("p", { class: "eng-closed", hidden: true, text: "Comments are closed." });
      this.formSlot = h("div", { class: "eng-compose" }, this.form(null));
      this.thread = h("ol", { class: "eng-thread", "aria-labelledby": id + "-h" });
      this.threadMsg = h("p", { class: "eng-msg", "aria-live": "polite" });
      this.more = h("button", { type: "button", class: "eng-btn eng-more", hidden: true, on: { click: () => this.loadThread(false) } }, "Load more comments");
      const section = this.section = h("section", { class: "eng", "aria-labelledby": id + "-h" },
        this.closedNote, this.reactions,
        h("div", { class: "eng-bar" }, this.heading,
          h("div", { class: "eng-sort" }, h("label", { for: id + "-sort", text: "Sort" }), this.sortSelect)),
        this.status, this.formSlot, this.thread, this.threadMsg, this.more);
      const theme = this.root.getAttribute("data-engagement-theme");
      if (theme === "dark" || theme === "light") section.classList.add("eng-" + theme);
      this.root.replaceChildren(section);
    }

    setCount(n) {
      this.count = Math.max(0, n);
      this.heading.textContent = plural(this.count, "comment", "comments");
      this.root.setAttribute("data-engagement-comments", String(this.count));
      this.emit("comments", { comments: this.count });
    }

    setClosed(closed) {
      this.closed = closed;
      this.section.classList.toggle("eng-is-closed", closed);
      this.closedNote.hidden = !closed;
      this.formSlot.hidden = closed;
      // Controls the server would refuse leave the page; the scores stay.
      if (closed) for (const el of this.thread.querySelectorAll(".eng-vote, .eng-links, .eng-card > form")) el.remove();
    }

    setPremod(on) {
      this.premod = on;
      for (const note of this.root.querySelectorAll(".eng-premod")) note.hidden = !on;
    }

    /** Show err in box, unless it says the thread closed meanwhile: then the whole widget says so. */
    fail(box, err, retry) {
      if (err.code !== "comments_closed") { showError(box, err, retry); return; }
      this.changed();
      this.setClosed(true);
      clearMsg(box);
    }

    /* -- the page names its article (canonical URL and title) with its first beacon per browser;
          the service takes it only from the site's own origins, first write wins -- */
    pageIdentity() {
      const marker = this.api.key("named:" + this.key);
      if (store.get(marker, null)) return undefined;
      store.set(marker, "1");
      const canonical = document.querySelector('link[rel="canonical"]');
      const url = new URL(canonical && canonical.href ? canonical.href : location.href, location.href);
      url.hash = "";
      const og = document.querySelector('meta[property="og:title"]');
      const title = (og && og.content) || document.title || "";
      return { url: url.href.slice(0, 2000), title: title.trim().slice(0, 300) };
    }

    /* -- view beacon: once per page load and article; one retry when the service is briefly unavailable -- */
    async countView(retried) {
      const marker = this.api.base + " " + this.key;
      if (viewed.has(marker) && !retried) return;
      viewed.add(marker);
      try {
        const data = await this.api.request("POST", this.path + "/views", this.pageIdentity(), { reader: true });
        this.root.setAttribute("data-engagement-views", String(data.views));
        this.emit("views", { views: data.views });
      } catch (err) {
        if (!retried && retryable(err)) setTimeout(() => this.countView(true), Math.min(err.retryAfter || 2, 10) * 1000);
      }
    }

    /* -- reactions -- */
    async loadReactions() {
      try { this.renderReactions(await this.api.request("GET", this.path + "/reactions", undefined, { reader: true })); }
      catch (err) { showError(this.status, err, () => this.loadReactions()); }
    }
    renderReactions(data) {
      const counts = data.counts || {}, mine = new Set(data.mine || []);
      const kinds = this.kinds.length ? this.kinds : Object.keys(counts).length ? Object.keys(counts) : DEFAULT_KINDS;
      this.reactions.replaceChildren(...kinds.map((kind) => {
        const n = counts[kind] || 0, label = kind.replace(/_/g, " ");
        return h("button", { type: "button", class: "eng-react", "data-kind": kind, "aria-pressed": mine.has(kind) ? "true" : "false",
          title: label, on: { click: (ev) => this.react(kind, ev.currentTarget) } },
          h("span", { class: "eng-emoji", "aria-hidden": "true", text: EMOJI[kind] || label }),
          srOnly(label + ", "), h("span", { class: "eng-n", text: String(n) }));
      }));
    }
    async react(kind, button) {
      const on = button.getAttribute("aria-pressed") !== "true";
      button.disabled = true;
      try {
        const data = await this.api.request(on ? "PUT" : "DELETE", `${this.path}/reactions/${encodeURIComponent(kind)}`, undefined, { reader: true });
        this.renderReactions(data);
        const again = this.reactions.querySelector(`[data-kind="${CSS.escape(kind)}"]`);
        if (again) again.focus();
      } catch (err) { button.disabled = false; showError(this.status, err, () => this.react(kind, button)); }
    }

    /* -- the thread -- */
    async loadThread(reset) {
      const q = new URLSearchParams({ sort: this.sort, limit: String(this.limit) });
      if (!reset && this.cursor) q.set("cursor", this.cursor);
      this.more.disabled = true;
      this.root.setAttribute("aria-busy", "true");
      try {
        const data = await this.api.request("GET", `${this.path}/comments?${q}`, undefined, { fresh: this.recentlyChanged() });
        clearMsg(this.threadMsg);
        this.setCount(data.article.comment_count);
        this.setPremod(Boolean(data.article.premoderated));
        if (reset) this.thread.replaceChildren();
        for (const el of this.thread.querySelectorAll(".eng-waiting")) el.remove();
        const items = data.comments.map((c) => this.comment(c));
        this.thread.append(...items);
        this.setClosed(data.article.comments_closed);
        for (const [pid, held] of this.pending) {
          if (this.root.querySelector(`#${this.id}-c${CSS.escape(String(pid))}`)) this.pending.delete(pid);
          else this.placeItem(this.comment({ ...held.posted, replies: [] }), held.parent, true);
        }
        if (!reset && items.length) items[0].querySelector(".eng-card").focus();
        if (!this.thread.children.length) showInfo(this.threadMsg, "No comments yet. Be the first to share a thought.");
        this.cursor = data.next_cursor;
        this.more.hidden = !this.cursor;
        if (reset) this.emit("ready", {});
      } catch (err) {
        showError(this.threadMsg, err, () => this.loadThread(reset));
      } finally {
        this.more.disabled = false;
        this.root.removeAttribute("aria-busy");
      }
    }

    comment(c) {
      const li = h("li", { class: "eng-item", id: `${this.id}-c${c.id}`, "data-comment-id": c.id });
      const card = h("article", { class: c.pinned && !c.deleted ? "eng-card eng-pinned" : "eng-card", tabindex: "-1", "aria-labelledby": `${this.id}-a${c.id}` });
      li.append(card);
      if (c.deleted) {
        card.classList.add("eng-deleted");
        card.append(h("p", { class: "eng-meta", id: `${this.id}-a${c.id}`, text: "This comment was deleted." }));
      } else {
        this.fillCard(card, c);
      }
      const replies = h("ol", { class: "eng-replies" }, (c.replies || []).map((r) => this.comment(r)));
      li.append(replies);
      return li;
    }

    fillCard(card, c) {
      const author = c.author || { name: "Anonymous" };
      const name = String(author.name || "Anonymous");
      const own = this.edits()[c.id];
      const mine = Boolean(own) || this.ownIds().includes(c.id);
      const waiting = this.pending.has(c.id);
      const avatar = h("span", { class: "eng-avatar eng-av" + hashIndex(author.avatar || name, 8), "aria-hidden": "true", text: [...name.trim()][0] || "?" });
      const who = author.url && /^https?:\/\//i.test(author.url)
        ? h("a", { class: "eng-author", href: author.url, rel: "nofollow ugc noopener", text: name })
        : h("span", { class: "eng-author", text: name });
      who.id = `${this.id}-a${c.id}`;
      const meta = h("p", { class: "eng-meta" }, who, " ", timeEl(c.created_at),
        c.edited_at ? h("span", { class: "eng-edited", title: c.edited_at, text: " · edited" }) : null,
        c.pinned ? h("span", { class: "eng-badge eng-pin", text: "Pinned" }) : null,
        mine ? h("span", { class: "eng-badge", text: "You" }) : null,
        waiting ? h("span", { class: "eng-badge eng-wait", text: "Waiting for a moderator" }) : null);
      const body = h("div", { class: "eng-body" });
      body.append(bodyHtml(c.body_html));
      const note = h("p", { class: "eng-msg", "aria-live": "polite" });
      card.replaceChildren(h("header", { class: "eng-head" }, avatar, meta), body,
        waiting ? null : this.actions(c, card, own, mine, note), note);
    }

    /* Only what the server will accept: nothing but the score on a closed thread, no votes or report on one's own. */
    actions(c, card, own, mine, note) {
      const myVote = (store.get(this.store("votes"), {})[c.id]) || 0;
      const bar = h("div", { class: "eng-actions" });
      const score = h("span", { class: "eng-score", text: String(c.score) });
      if (this.closed || mine) {
        bar.append(h("span", { class: "eng-votes" }, score, srOnly(" points")));
        if (this.closed) return bar;
      }
      const vote = (value, arrow, label) => h("button", { type: "button", class: "eng-vote", "data-vote": value,
        "aria-pressed": myVote === value ? "true" : "false", title: label,
        on: { click: () => this.vote(c, value, bar, score, note) } },
        h("span", { "aria-hidden": "true", text: arrow }), srOnly(label));
      if (!mine) bar.append(h("span", { class: "eng-votes", role: "group", "aria-label": "Votes" },
        vote(1, "▲", "Upvote"), score, srOnly(" points"), vote(-1, "▼", "Downvote")));
      const links = h("span", { class: "eng-links" }, h("button", { type: "button", class: "eng-link eng-reply-btn", "aria-expanded": "false",
        on: { click: (ev) => this.toggleReply(c, card, ev.currentTarget) } }, "Reply"));
      if (own) {
        const ownBox = h("span", { class: "eng-own", "data-expires": own.createdAt + this.window },
          h("button", { type: "button", class: "eng-link", on: { click: () => this.startEdit(c, card, note) } }, "Edit"),
          h("button", { type: "button", class: "eng-link", on: { click: (ev) => this.confirmDelete(c, card, ev.currentTarget, note) } }, "Delete"));
        links.append(ownBox);
      }
      if (!mine) links.append(h("button", { type: "button", class: "eng-link eng-flag-btn", "aria-expanded": "false",
        on: { click: (ev) => this.toggleFlag(c, card, ev.currentTarget, note) } }, "Report"));
      bar.append(links);
      return bar;
    }

    async vote(c, value, bar, score, note) {
      const buttons = bar.querySelectorAll(".eng-vote");
      const current = [...buttons].find((b) => b.getAttribute("aria-pressed") === "true");
      const next = current && Number(current.dataset.vote) === value ? 0 : value;
      buttons.forEach((b) => { b.disabled = true; });
      try {
        const data = await this.api.request("POST", `/api/v1/comments/${encodeURIComponent(c.id)}/vote`, { value: next }, { reader: true });
        score.textContent = String(data.score);
        buttons.forEach((b) => b.setAttribute("aria-pressed", Number(b.dataset.vote) === data.my_vote ? "true" : "false"));
        const votes = store.get(this.store("votes"), {});
        if (data.my_vote) votes[c.id] = data.my_vote; else delete votes[c.id];
        store.set(this.store("votes"), votes);
        this.changed();
        clearMsg(note);
      } catch (err) {
        this.fail(note, err, () => this.vote(c, value, bar, score, note));
      } finally {
        buttons.forEach((b) => { b.disabled = false; });
      }
    }

    toggleReply(c, card, button) {
      const open = card.querySelector(":scope > .eng-form");
      if (open) { open.remove(); button.setAttribute("aria-expanded", "false"); button.focus(); return; }
      const form = this.form(c, () => { form.remove(); button.setAttribute("aria-expanded", "false"); button.focus(); });
      card.append(form);
      button.setAttribute("aria-expanded", "true");
      form.querySelector("textarea").focus();
    }

    /* -- the comment form (top level when parent is null, else a reply form) -- */
    form(parent, close) {
      const id = `${this.id}-f${++seq}`;
      const profile = store.get(this.store("profile"), {});
      const field = (name, label, input, hint) => {
        input.id = `${id}-${name}`;
        const err = h("p", { class: "eng-field-error", id: `${id}-${name}-err`, hidden: true });
        const hintEl = hint ? h("p", { class: "eng-hint", id: `${id}-${name}-hint`, text: hint }) : null;
        if (hint) input.setAttribute("aria-describedby", hintEl.id);
        return h("div", { class: "eng-field eng-field-" + name, "data-field": name }, h("label", { for: input.id, text: label }), input, hintEl, err);
      };
      const text = h("textarea", { name: "body", rows: parent ? 3 : 4, required: true, maxlength: 10000, class: "eng-input" });
      const nameIn = h("input", { name: "name", type: "text", maxlength: 80, autocomplete: "name", class: "eng-input", value: profile.name || null });
      const emailIn = h("input", { name: "email", type: "email", maxlength: 254, autocomplete: "email", class: "eng-input" });
      const urlIn = h("input", { name: "url", type: "url", maxlength: 2000, autocomplete: "url", placeholder: "https://", class: "eng-input", value: profile.url || null });
      // Honeypot for bots, hidden from people and screen readers; the API calls it "website".
      const trap = h("input", { name: "website", type: "text", tabindex: "-1", autocomplete: "off", id: id + "-hp" });
      const msg = h("p", { class: "eng-msg", "aria-live": "polite" });
      const submit = h("button", { type: "submit", class: "eng-btn eng-primary" }, parent ? "Post reply" : "Post comment");
      const form = h("form", { class: "eng-form", novalidate: true, "aria-label": parent ? "Reply to " + ((parent.author && parent.author.name) || "comment") : "Write a comment" },
        field("body", parent ? "Your reply" : "Your comment", text,
          "Markdown works: **bold**, *italic*, `code`, [link](https://…), > quote."),
        h("p", { class: "eng-hint eng-premod", hidden: !this.premod, text: "Comments here are checked by a moderator before they appear." }),
        h("div", { class: "eng-row" },
          field("name", "Name (optional)", nameIn),
          field("email", "Email (optional)", emailIn, "Never shown publicly."),
          field("url", "Website (optional)", urlIn)),
        h("div", { class: "eng-hp", "aria-hidden": "true" }, h("label", { for: trap.id, text: "Leave this field empty" }), trap),
        h("div", { class: "eng-form-foot" }, submit,
          close ? h("button", { type: "button", class: "eng-link", on: { click: close } }, "Cancel") : null),
        msg);
      const send = async () => {
        clearFieldErrors(form);
        clearMsg(msg);
        if (!text.value.trim()) { fieldErrors(form, { body: ["Write something first."] }); return; }
        // A website typed without a scheme ("example.org") means the https:// one.
        const site = urlIn.value.trim();
        const payload = { body: text.value, author_name: nameIn.value.trim(), author_email: emailIn.value.trim(),
          author_url: site && !/^[a-z][a-z0-9+.-]*:\/\//i.test(site) ? "https://" + site : site, website: trap.value };
        if (parent) payload.parent_id = parent.id;
        submit.disabled = true;
        let wait = 0;
        try {
          const posted = await this.api.request("POST", this.path + "/comments", payload, { reader: true });
          store.set(this.store("profile"), { name: payload.author_name, url: payload.author_url });
          this.saveEdit(posted.id, { token: posted.edit_token, createdAt: Date.now(), body: payload.body });
          this.rememberOwn(posted.id);
          this.changed();
          text.value = "";
          this.placePosted(posted, parent, msg);
          if (close) close();
        } catch (err) {
          if (err.status === 422 && err.fields && fieldErrors(form, err.fields)) { showError(msg, new ApiError(422, "validation_error", "Please check the highlighted fields.")); return; }
          if (err.code === "rate_limited") wait = (err.retryAfter || 30) * 1000;
          this.fail(msg, err, send);
        } finally {
          if (wait) setTimeout(() => { submit.disabled = false; }, wait); else submit.disabled = false;
        }
      };
      form.addEventListener("submit", (ev) => { ev.preventDefault(); send(); });
      return form;
    }

    /** Show the reader's new comment; a held one only here, marked, until a moderator decides. */
    placePosted(posted, parent, msg) {
      const held = posted.status !== "approved";
      if (held) this.pending.set(posted.id, { posted, parent });
      const item = this.placeItem(this.comment({ ...posted, replies: [] }), parent, held);
      clearMsg(this.threadMsg);
      if (!held) this.setCount(this.count + 1);
      // The reply form closes, so a reply's message goes under the reply itself.
      const text = held ? "Sent. Others will see it once a moderator approves it."
        : parent ? "Your reply is posted." : "Your comment is posted.";
      showInfo(parent ? item.querySelector(".eng-msg") : msg, text);
      item.querySelector(".eng-card").focus();
    }

    placeItem(item, parent, held) {
      if (held) item.classList.add("eng-waiting");
      const host = parent && this.root.querySelector(`#${this.id}-c${CSS.escape(String(parent.id))} > .eng-replies`);
      if (host || this.sort === "oldest") (host || this.thread).append(item); else this.thread.prepend(item);
      return item;
    }

    startEdit(c, card, note) {
      if (card.querySelector(".eng-edit")) return;
      const own = this.edits()[c.id];
      if (!own) { showInfo(note, "The edit window has passed."); return; }
      const body = card.querySelector(".eng-body");
      const id = `${this.id}-e${c.id}`;
      const text = h("textarea", { id, name: "body", rows: 4, maxlength: 10000, class: "eng-input" });
      text.value = own.body || body.textContent;
      const err = h("p", { class: "eng-field-error", id: id + "-err", hidden: true });
      const save = h("button", { type: "submit", class: "eng-btn eng-primary" }, "Save");
      const editForm = h("form", { class: "eng-edit", novalidate: true },
        h("div", { class: "eng-field", "data-field": "body" }, h("label", { for: id, text: "Edit your comment" }), text, err),
        h("div", { class: "eng-form-foot" }, save,
          h("button", { type: "button", class: "eng-link", on: { click: () => { editForm.remove(); body.hidden = false; card.focus(); } } }, "Cancel")));
      const submit = async () => {
        clearFieldErrors(editForm);
        clearMsg(note);
        save.disabled = true;
        try {
          const updated = await this.api.request("PATCH", `/api/v1/comments/${encodeURIComponent(c.id)}`, { body: text.value }, { edit: own.token, reader: true });
          this.saveEdit(c.id, { ...own, body: text.value });
          this.changed();
          this.fillCard(card, { ...c, ...updated });
          showInfo(card.querySelector(".eng-msg"), "Your comment is updated.");
          card.focus();
        } catch (e) {
          save.disabled = false;
          if (e.status === 422 && e.fields && fieldErrors(editForm, e.fields)) return;
          if (e.status === 403 && e.code === "forbidden") { this.saveEdit(c.id, null); showInfo(note, "The edit window has passed."); return; }
          this.fail(note, e, submit);
        }
      };
      editForm.addEventListener("submit", (ev) => { ev.preventDefault(); submit(); });
      body.hidden = true;
      body.after(editForm);
      text.focus();
    }

    confirmDelete(c, card, button, note) {
      const own = this.edits()[c.id];
      if (!own) { showInfo(note, "The edit window has passed."); return; }
      const box = h("span", { class: "eng-confirm", role: "group", "aria-label": "Confirm delete" }, "Delete this comment? ");
      const cancel = () => { box.remove(); button.hidden = false; button.focus(); };
      const yes = h("button", { type: "button", class: "eng-link eng-danger", on: { click: async () => {
        yes.disabled = true;
        try {
          await this.api.request("DELETE", `/api/v1/comments/${encodeURIComponent(c.id)}`, undefined, { edit: own.token, reader: true });
          this.saveEdit(c.id, null);
          this.changed();
          const item = card.parentElement;
          if (item.querySelector(".eng-replies > li")) {
            card.classList.add("eng-deleted");
            card.replaceChildren(h("p", { class: "eng-meta", id: `${this.id}-a${c.id}`, text: "This comment was deleted." }));
          } else {
            item.remove();
          }
          this.setCount(this.count - 1);
          showInfo(this.status, "Your comment is deleted.");
        } catch (e) {
          yes.disabled = false;
          this.fail(note, e);
        }
      } } }, "Yes, delete");
      box.append(yes, " ", h("button", { type: "button", class: "eng-link", on: { click: cancel } }, "Keep it"));
      button.hidden = true;
      button.after(box);
      yes.focus();
    }

    toggleFlag(c, card, button, note) {
      const open = card.querySelector(":scope > .eng-flag");
      if (open) { open.remove(); button.setAttribute("aria-expanded", "false"); button.focus(); return; }
      const id = `${this.id}-r${c.id}`;
      const reason = h("select", { id, name: "reason", class: "eng-select" }, FLAG_REASONS.map(([v, label]) => h("option", { value: v, text: label })));
      const extra = h("input", { id: id + "-note", name: "note", type: "text", maxlength: 500, class: "eng-input" });
      const send = h("button", { type: "submit", class: "eng-btn" }, "Send report");
      const form = h("form", { class: "eng-flag", "aria-label": "Report this comment" },
        h("div", { class: "eng-row" },
          h("div", { class: "eng-field" }, h("label", { for: id, text: "Reason" }), reason),
          h("div", { class: "eng-field" }, h("label", { for: id + "-note", text: "Note for moderators (optional)" }), extra)),
        h("div", { class: "eng-form-foot" }, send,
          h("button", { type: "button", class: "eng-link", on: { click: () => { form.remove(); button.setAttribute("aria-expanded", "false"); button.focus(); } } }, "Cancel")));
      const submit = async () => {
        send.disabled = true;
        const payload = { reason: reason.value };
        if (extra.value.trim()) payload.note = extra.value.trim();
        try {
          await this.api.request("POST", `/api/v1/comments/${encodeURIComponent(c.id)}/flags`, payload, { reader: true });
          form.remove();
          button.textContent = "Reported";
          button.disabled = true;
          button.removeAttribute("aria-expanded");
          showInfo(note, "Thanks. A moderator will take a look.");
        } catch (e) {
          send.disabled = false;
          this.fail(note, e, submit);
        }
      };
      form.addEventListener("submit", (ev) => { ev.preventDefault(); submit(); });
      card.querySelector(".eng-actions").after(form);
      button.setAttribute("aria-expanded", "true");
      reason.focus();
    }
  }

  /* ---- field errors from a 422: {field: [problems]} shown next to the matching control ---- */
  const clearFieldErrors = (form) => {
    for (const box of form.querySelectorAll("[data-field]")) {
      const input = box.querySelector("input, textarea, select"), err = box.querySelector(".eng-field-error");
      input.removeAttribute("aria-invalid");
      const described = (input.getAttribute("aria-describedby") || "").split(" ").filter((x) => x && x !== err.id);
      if (described.length) input.setAttribute("aria-describedby", described.join(" ")); else input.removeAttribute("aria-describedby");
      err.hidden = true;
      err.textContent = "";
    }
  };
  /** Returns true when at least one problem could be placed next to its field. */
  const fieldErrors = (form, fields) => {
    let first = null;
    for (const [name, problems] of Object.entries(fields)) {
      const box = form.querySelector(`[data-field="${FIELD_FOR[name] || "-"}"]`);
      if (!box) continue;
      const input = box.querySelector("input, textarea, select"), err = box.querySelector(".eng-field-error");
      err.textContent = FIELD_PROBLEM[name] || [].concat(problems).join(" ");
      err.hidden = false;
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", ((input.getAttribute("aria-describedby") || "") + " " + err.id).trim());
      first = first || input;
    }
    if (first) first.focus();
    return Boolean(first);
  };

  const hashIndex = (s, n) => {
    let x = 0;
    for (const ch of String(s)) x = (x * 31 + ch.codePointAt(0)) >>> 0;
    return x % n;
  };

  /* ---- relative times refresh; own-comment controls disappear when the edit window ends ---- */
  setInterval(() => {
    for (const w of widgets) {
      for (const t of w.root.querySelectorAll("time.eng-time")) t.textContent = relative(t.getAttribute("datetime"));
      for (const own of w.root.querySelectorAll(".eng-own[data-expires]")) {
        if (Date.now() > Number(own.getAttribute("data-expires"))) own.remove();
      }
    }
  }, 20000);

  const loadStylesheet = () => {
    if (document.querySelector("link[data-engagement-css]")) return;
    const explicit = document.querySelector("[data-engagement-api]");
    const base = SCRIPT_ORIGIN || (explicit && explicit.getAttribute("data-engagement-api")) || location.origin;
    document.head.append(h("link", { rel: "stylesheet", href: base.replace(/\/+$/, "") + CSS_PATH, "data-engagement-css": "" }));
  };

  const mount = (el) => {
    if (el.hasAttribute("data-engagement-mounted")) return;
    el.setAttribute("data-engagement-mounted", "");
    widgets.add(new Widget(el));
  };
  const scan = () => {
    const found = document.querySelectorAll("[data-engagement-article]");
    if (found.length) loadStylesheet();
    found.forEach(mount);
  };
  window.EngagementWidget = Object.freeze({ scan, mount: (el) => { loadStylesheet(); mount(el); } });
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", scan); else scan();
})();
