/* engagement comment widget: <div data-engagement-article="KEY"></div> + <script src=".../embed.js" async></script>.
   Plain JavaScript, no framework, no build step. Works under a strict CSP: no inline script or style, no eval.
   Only body_html (sanitised by the server, filtered again below) is parsed as HTML; every other string,
   catalogue messages included, is text. */
(() => {
  "use strict";
  const script = document.currentScript;
  if (window.EngagementWidget) { window.EngagementWidget.scan(); return; }

  // The server replaces this placeholder with the stylesheet's content hash when it starts.
  const CSS_PATH = "/embed.__ENGAGEMENT_CSS__.css";
  // ...and this empty object with the English catalogue (engagement/static/lang/en.json).
  const EN = Object.freeze(/*__ENGAGEMENT_MESSAGES__*/{});
  // Catalogues the service ships at /embed/lang/<lang>.json; others come from data-engagement-catalogue.
  const SHIPPED = ["de", "fr"];
  const SCRIPT_ORIGIN = script && script.src ? new URL(script.src, location.href).origin : "";
  const KEY_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$/;
  const LANG_RE = /^[a-z]{2,3}(-[a-z0-9]{1,8}){0,3}$/;
  const PERMALINK_RE = /^#comment-([1-9][0-9]{0,17})$/;
  const DEFAULT_KINDS = ["like", "love", "insightful", "surprised", "sad", "angry"];
  const EMOJI = { like: "👍", love: "❤️", insightful: "💡", surprised: "😮", sad: "😢", angry: "😠", funny: "😂", thanks: "🙏" };
  const FLAG_REASONS = ["spam", "abuse", "off_topic", "other"];
  const SORTS = ["oldest", "newest", "top"];
  const FIELD_FOR = { body: "body", author_name: "name", author_email: "email", author_url: "url" };
  const OWN_MAX = 200;
  const TICK_MS = 5000;
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

  /* ---- reply e-mails: a checkbox in the comment form, only where the thread says mail is set up ---- */
  const replyMailChoice = (widget, id, t) => {
    const input = h("input", { type: "checkbox", name: "notify", id: id + "-notify" });
    const el = h("div", { class: "eng-field eng-notify", hidden: !widget.replyEmails },
      input, " ", h("label", { for: input.id, text: t("notify_replies") }));
    return { el, wanted: () => Boolean(widget.replyEmails && input.checked) };
  };
  /** The thread says whether the service sends mail; forms already open follow. */
  const offerReplyMails = (widget, on) => {
    widget.replyEmails = on;
    for (const el of widget.root.querySelectorAll(".eng-notify")) el.hidden = !on;
  };

  /* ---- messages: a catalogue per language, plurals by Intl.PluralRules, English for anything missing ---- */
  const catalogues = new Map();
  /** Resolve with the messages at url, or null; only strings and {plural category: string} objects are kept. */
  const fetchCatalogue = (url) => {
    if (!catalogues.has(url)) {
      catalogues.set(url, fetch(url, { headers: { Accept: "application/json" }, mode: "cors", credentials: "omit" })
        .then((res) => (res.ok ? res.json() : null))
        .then((data) => {
          if (!data || typeof data !== "object") return null;
          const kept = {};
          for (const [key, value] of Object.entries(data)) {
            if (typeof value === "string") kept[key] = value;
            else if (value && typeof value === "object" && typeof value.other === "string") kept[key] = value;
          }
          return kept;
        }, () => null));
    }
    return catalogues.get(url);
  };
  class Messages {
    constructor(lang, messages) {
      this.lang = lang;
      this.messages = messages;
      this.plurals = new Intl.PluralRules(lang);
      this.numbers = new Intl.NumberFormat(lang);
      this.times = new Intl.RelativeTimeFormat(lang, { numeric: "auto" });
    }
    /** The message for key in this language, {name} placeholders filled in; vars.n picks the plural form. */
    t(key, vars = {}) {
      let msg = this.messages[key] ?? EN[key] ?? key;
      if (typeof msg === "object") msg = msg[this.plurals.select(vars.n)] ?? msg.other;
      return String(msg).replace(/\{(\w{1,20})\}/g, (all, name) => {
        const v = vars[name];
        return v == null ? all : typeof v === "number" ? this.numbers.format(v) : String(v);
      });
    }
    relative(iso) {
      const then = Date.parse(iso), s = (Date.now() - then) / 1000;
      if (s < 45) return this.t("just_now");
      if (s < 3600) return this.times.format(-Math.max(1, Math.round(s / 60)), "minute");
      if (s < 86400) return this.times.format(-Math.round(s / 3600), "hour");
      if (s < 86400 * 30) return this.times.format(-Math.round(s / 86400), "day");
      return new Date(then).toLocaleDateString(this.lang, { year: "numeric", month: "short", day: "numeric" });
    }
  }
  /** The language the element asks for (data-engagement-lang, else the nearest lang attribute), normalised. */
  const wantedLang = (root) => {
    const marked = root.closest("[lang]");
    const raw = root.getAttribute("data-engagement-lang") || (marked && marked.getAttribute("lang")) || "en";
    const lang = raw.trim().toLowerCase().replace(/_/g, "-").slice(0, 35);
    if (!LANG_RE.test(lang)) return "en";
    // Well-formed but not a valid tag for Intl ("de-a"): its language alone.
    try { Intl.getCanonicalLocales(lang); return lang; } catch { return lang.split("-")[0]; }
  };
  /** Messages for the widget at root: the site's own catalogue, else a shipped one, else English. */
  const messagesFor = async (root, base) => {
    const lang = wantedLang(root), primary = lang.split("-")[0];
    const own = root.getAttribute("data-engagement-catalogue");
    const url = own ? new URL(own, location.href).href : SHIPPED.includes(primary) ? `${base}/embed/lang/${primary}.json` : null;
    // A site's own catalogue may also reword English; the built-in English needs no fetch.
    const messages = url ? await fetchCatalogue(url) : null;
    return messages ? new Messages(lang, messages) : new Messages("en", {});
  };

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

  /* ---- the API client, one per service origin ---- */
  class ApiError extends Error {
    constructor(status, code, message, fields, retryAfter) {
      super(message || code);
      Object.assign(this, { status, code, fields: fields || null, retryAfter: retryAfter || 0 });
    }
  }
  const clients = new Map();
  class Client {
    constructor(base) { this.base = base; this.ns = `engagement:${base}:`; this.minting = null; this.mintFailedAt = 0; this.signIns = new Map(); }
    key(name) { return this.ns + name; }
    /** The reader token of a sign-in with the site's account ({token, expires, me}), while it is valid. */
    signed() { const s = store.get(this.key("signed"), null); return s && s.expires > Date.now() ? s : null; }
    /** Exchange the site's JWT (once per token) for a reader token bound to the account; resolve with "me". */
    signIn(jwt) {
      if (!this.signIns.has(jwt)) {
        this.signIns.set(jwt, this.request("POST", "/api/v1/readers/sso", { token: jwt }).then((data) => {
          store.set(this.key("signed"), { token: data.reader_token, expires: Date.parse(data.expires_at), me: data.me });
          return data.me;
        }, (err) => { this.signIns.delete(jwt); throw err; }));
      }
      return this.signIns.get(jwt);
    }
    signOut() { store.del(this.key("signed")); this.signIns.clear(); }
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
        opts.fresh revalidates a cached copy (the browser sends If-None-Match; a 304 reuses the copy). */
    async request(method, path, body, opts = {}) {
      const headers = { Accept: "application/json" };
      if (body !== undefined) headers["Content-Type"] = "application/json";
      if (opts.edit) headers["X-Edit-Token"] = opts.edit;
      const signed = opts.reader && this.signed();
      const token = signed ? signed.token : opts.reader ? store.get(this.key("reader"), null) || await this.mint() : null;
      if (token) headers["X-Reader-Token"] = token;
      let res;
      try {
        res = await fetch(this.base + path, { method, headers, mode: "cors", credentials: "omit",
          cache: opts.fresh ? "no-cache" : "default",
          body: body === undefined ? undefined : JSON.stringify(body) });
      } catch {
        throw new ApiError(0, "network");
      }
      if (res.status === 401 && token && !opts.retried) {
        // Forget the token unless a concurrent request has already replaced it; an ended sign-in goes anonymous.
        if (signed) this.signOut();
        else if (store.get(this.key("reader"), null) === token) store.del(this.key("reader"));
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

  /* ---- messages people can act on: the service's own wording is for developers ---- */
  const ERROR_MESSAGES = { network: "error_down", comments_closed: "error_closed", banned: "error_banned",
    conflict: "error_conflict", payload_too_large: "error_too_large", not_found: "error_gone",
    forbidden: "error_not_allowed", validation_error: "check_fields", bad_key: "error_bad_key",
    sign_in_required: "error_sign_in" };
  const retryable = (err) => err.status === 0 || err.status >= 500;
  const clearMsg = (box) => { box.classList.remove("eng-error"); box.replaceChildren(); };
  const showInfo = (box, ...content) => { box.classList.remove("eng-error"); box.replaceChildren(...content); };

  /* ---- the widget: one per [data-engagement-article] element ---- */
  class Widget {
    constructor(root, i18n) {
      this.root = root;
      this.i18n = i18n;
      this.key = root.getAttribute("data-engagement-article") || "";
      const base = root.getAttribute("data-engagement-api") || SCRIPT_ORIGIN || location.origin;
      this.api = clientFor(base.replace(/\/+$/, ""));
      this.id = "eng" + ++seq;
      this.path = "/api/v1/articles/" + encodeURIComponent(this.key);
      this.sort = "oldest";
      this.limit = Math.min(100, Math.max(1, parseInt(root.getAttribute("data-engagement-limit"), 10) || 20));
      this.window = (parseFloat(root.getAttribute("data-engagement-edit-window")) || 15) * 60000;
      this.kinds = (root.getAttribute("data-engagement-reactions") || "").split(",").map((s) => s.trim()).filter(Boolean);
      // Live threads: look for new comments every 30 s (data-engagement-live="off" or a number of seconds, at least 10).
      const live = root.getAttribute("data-engagement-live");
      this.liveMs = live === "off" ? 0 : Math.max(10, parseFloat(live) || 30) * 1000;
      this.checkedAt = Date.now();
      this.closed = false;
      this.premod = false;
      // Held comments this reader posted during this page view: shown to them only, never stored.
      this.pending = new Map();
      this.count = 0;
      this.cursor = null;
      this.build();
      if (!KEY_RE.test(this.key)) { this.showError(this.status, new ApiError(422, "bad_key")); return; }
      this.loadThread(true, this.linkedComment());
      this.loadReactions();
      this.countView();
    }

    t(key, vars) { return this.i18n.t(key, vars); }
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
    item(id) { return this.root.querySelector(`.eng-item[data-comment-id="${CSS.escape(String(id))}"]`); }

    /** Say what went wrong in box (a live region), in words a reader can act on; offer retry where it may help. */
    showError(box, err, retry) {
      const text = err.code === "rate_limited" ? this.t("error_rate_limited", { n: err.retryAfter || 30 })
        : this.t(ERROR_MESSAGES[err.code] || (retryable(err) ? "error_down" : "error_other"));
      box.replaceChildren(h("span", { text }));
      box.classList.add("eng-error");
      if (retry && retryable(err)) {
        box.append(" ", h("button", { type: "button", class: "eng-link", on: { click: () => { clearMsg(box); retry(); } } }, this.t("retry")));
      }
    }

    build() {
      const id = this.id, t = (key) => this.t(key);
      this.status = h("p", { class: "eng-status", role: "status", "aria-live": "polite" });
      this.reactions = h("div", { class: "eng-reactions", role: "group", "aria-labelledby": id + "-rp" });
      // The heading is the comment count, the site's own words (with the count beside it), or "none" (kept for screen readers).
      const heading = (this.root.getAttribute("data-engagement-heading") || "").trim().slice(0, 200);
      this.heading = h("h2", { class: heading === "none" ? "eng-heading eng-sr" : "eng-heading", id: id + "-h" });
      this.countNote = heading && heading !== "none" ? h("span", { class: "eng-count" }) : null;
      if (this.countNote) this.heading.textContent = heading;
      this.sortSelect = h("select", { id: id + "-sort", class: "eng-select", on: { change: () => {
        this.sort = this.sortSelect.value;
        this.loadThread(true);
      } } }, SORTS.map((v) => h("option", { value: v, text: t("sort_" + v) })));
      this.closedNote = h("p", { class: "eng-closed", hidden: true, text: t("closed") });
      this.formSlot = h("div", { class: "eng-compose" });
      this.login = this.root.getAttribute("data-engagement-login-url");
      this.setSignIn(false);
      this.thread = h("ol", { class: "eng-thread", "aria-labelledby": id + "-h" });
      this.threadMsg = h("p", { class: "eng-msg", "aria-live": "polite" });
      this.fresh = h("button", { type: "button", class: "eng-btn eng-fresh", hidden: true, on: { click: () => this.showFresh() } });
      this.earlier = h("button", { type: "button", class: "eng-btn eng-more", hidden: true, on: { click: () => this.loadThread(true) } }, t("load_earlier"));
      this.more = h("button", { type: "button", class: "eng-btn eng-more", hidden: true, on: { click: () => this.loadThread(false) } }, t("load_more"));
      const section = this.section = h("section", { class: "eng", lang: this.i18n.lang, "aria-labelledby": id + "-h" },
        this.closedNote,
        h("div", { class: "eng-reactbar" }, h("p", { class: "eng-prompt", id: id + "-rp", text: t("reactions_prompt") }), this.reactions),
        h("div", { class: "eng-bar" }, h("div", { class: "eng-title" }, this.heading, this.countNote),
          h("div", { class: "eng-sort" }, h("label", { for: id + "-sort", text: t("sort") }), this.sortSelect)),
        this.status, this.formSlot, h("div", { "aria-live": "polite" }, this.fresh), this.earlier,
        this.thread, this.threadMsg, this.more);
      const theme = this.root.getAttribute("data-engagement-theme");
      if (theme === "dark" || theme === "light") section.classList.add("eng-" + theme);
      this.root.replaceChildren(section);
    }

    setCount(n) {
      this.count = Math.max(0, n);
      (this.countNote || this.heading).textContent = this.t("comments", { n: this.count });
      this.root.setAttribute("data-engagement-comments", String(this.count));
      this.emit("comments", { comments: this.count });
    }

    setClosed(closed) {
      this.closed = closed;
      this.section.classList.toggle("eng-is-closed", closed);
      this.closedNote.hidden = !closed;
      this.formSlot.hidden = closed;
      // Controls the server would refuse leave the page; the scores and "Copy link" stay.
      if (closed) for (const el of this.thread.querySelectorAll(".eng-vote, .eng-reply-btn, .eng-own, .eng-flag-btn, .eng-card > form")) el.remove();
    }

    /** The comment form, or where sign-in is required and the reader has not signed in, the way to sign in. */
    setSignIn(required) {
      const out = required && !this.api.signed();
      if (this.formSlot.firstChild && out === this.signedOut) return;
      this.signedOut = out;
      const link = this.login && /^https?:\/\//i.test(new URL(this.login, location.href).href)
        ? h("a", { class: "eng-btn eng-primary", href: new URL(this.login, location.href).href, text: this.t("sign_in") }) : this.t("sign_in");
      this.formSlot.replaceChildren(out ? h("p", { class: "eng-signin" }, link) : this.form(null));
    }

    setPremod(on) {
      this.premod = on;
      for (const note of this.root.querySelectorAll(".eng-premod")) note.hidden = !on;
    }

    /** Show err in box, unless it says the thread closed meanwhile: then the whole widget says so. */
    fail(box, err, retry) {
      if (err.code !== "comments_closed") { this.showError(box, err, retry); return; }
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
      catch (err) { this.showError(this.status, err, () => this.loadReactions()); }
    }
    renderReactions(data) {
      const counts = data.counts || {}, mine = new Set(data.mine || []);
      const kinds = this.kinds.length ? this.kinds : Object.keys(counts).length ? Object.keys(counts) : DEFAULT_KINDS;
      this.reactions.replaceChildren(...kinds.map((kind) => {
        const n = counts[kind] || 0, label = this.t("reaction_" + kind) === "reaction_" + kind ? kind.replace(/_/g, " ") : this.t("reaction_" + kind);
        return h("button", { type: "button", class: "eng-react", "data-kind": kind, "aria-pressed": mine.has(kind) ? "true" : "false",
          title: label, on: { click: (ev) => this.react(kind, ev.currentTarget) } },
          h("span", { class: "eng-emoji", "aria-hidden": "true", text: EMOJI[kind] || label }),
          srOnly(label + ", "), h("span", { class: "eng-n", text: this.i18n.numbers.format(n) }));
      }));
    }
    async react(kind, button) {
      const on = button.getAttribute("aria-pressed") !== "true";
      button.disabled = true;
      try {
        const data = await this.api.request(on ? "PUT" : "DELETE", `${this.path}/reactions/${encodeURIComponent(kind)}`, undefined, { reader: true });
        clearMsg(this.status);
        this.renderReactions(data);
        const again = this.reactions.querySelector(`[data-kind="${CSS.escape(kind)}"]`);
        if (again) again.focus();
      } catch (err) { button.disabled = false; this.showError(this.status, err, () => this.react(kind, button)); }
    }

    /* -- the thread -- */
    threadPath(cursor, around) {
      const q = new URLSearchParams({ sort: this.sort, limit: String(this.limit) });
      if (cursor) q.set("cursor", cursor);
      if (around) q.set("around", around);
      return `${this.path}/comments?${q}`;
    }

    /** Load the first page (reset), the next one, or (around) the page holding a linked comment. */
    async loadThread(reset, around) {
      this.more.disabled = this.earlier.disabled = true;
      this.loading = true;
      this.root.setAttribute("aria-busy", "true");
      try {
        const data = await this.api.request("GET", this.threadPath(reset ? null : this.cursor, around), undefined,
          { fresh: this.recentlyChanged() });
        clearMsg(this.threadMsg);
        this.checkedAt = Date.now();
        this.fresh.hidden = true;
        this.setCount(data.article.comment_count);
        this.setPremod(Boolean(data.article.premoderated));
        this.setSignIn(Boolean(data.article.sign_in_required));
        offerReplyMails(this, Boolean(data.article.reply_notifications));
        if (reset) this.thread.replaceChildren();
        for (const el of this.thread.querySelectorAll(".eng-waiting")) el.remove();
        const items = data.comments.map((c) => this.comment(c));
        this.thread.append(...items);
        this.setClosed(data.article.comments_closed);
        for (const [pid, held] of this.pending) {
          if (this.item(pid)) this.pending.delete(pid);
          else this.placeItem(this.comment({ ...held.posted, replies: [] }), held.parent, true);
        }
        if (!reset && items.length) items[0].querySelector(".eng-card").focus();
        if (!this.thread.children.length) showInfo(this.threadMsg, this.t("empty"));
        this.cursor = data.next_cursor;
        this.more.hidden = !this.cursor;
        if (reset) this.earlier.hidden = !data.has_earlier;
        // A held reply in a shown thread leads to its thread's page, but is not on it.
        if (around && !this.reveal(around)) showInfo(this.status, this.t("link_gone"));
        if (reset) this.emit("ready", {});
      } catch (err) {
        if (around && err.status === 404) {
          this.loading = false;
          await this.loadThread(true);
          showInfo(this.status, this.t("link_gone"));
          return;
        }
        this.showError(this.threadMsg, err, () => this.loadThread(reset, around));
      } finally {
        this.more.disabled = this.earlier.disabled = false;
        this.loading = false;
        this.root.removeAttribute("aria-busy");
      }
    }

    /* -- permalinks: #comment-123 loads the page that holds it, scrolls there and marks it -- */
    linkedComment() {
      const match = PERMALINK_RE.exec(location.hash);
      return match ? match[1] : null;
    }
    followLink() {
      const id = this.linkedComment();
      if (!id) return;
      if (this.item(id)) this.reveal(id); else this.loadThread(true, id);
    }
    /** Scroll to the comment, focus and mark it; false when it is not on the page. */
    reveal(id) {
      const item = this.item(id);
      if (!item) return false;
      for (const el of this.root.querySelectorAll(".eng-target")) el.classList.remove("eng-target");
      const card = item.querySelector(".eng-card");
      card.classList.add("eng-target");
      const show = () => { card.scrollIntoView({ block: "center" }); card.focus({ preventScroll: true }); };
      show();
      // Until the page has loaded, the browser may still scroll to the fragment itself: centre it again after.
      if (document.readyState !== "complete") window.addEventListener("load", show, { once: true });
      return true;
    }
    permalink(c) {
      const url = new URL(location.href);
      url.hash = "comment-" + c.id;
      return url.href;
    }
    async copyLink(c, note) {
      const url = this.permalink(c);
      try {
        await navigator.clipboard.writeText(url);
        showInfo(note, this.t("link_copied"));
      } catch {
        // No clipboard (an insecure page, a refused permission): the link itself, to copy by hand.
        showInfo(note, this.t("link_here"), " ", h("a", { href: url, text: url }));
      }
    }

    /* -- live threads: while the page is visible, revalidate the first page; a 304 costs the service one query -- */
    async check() {
      if (!this.liveMs || this.loading || this.checking || Date.now() - this.checkedAt < this.liveMs) return;
      this.checking = true;
      this.checkedAt = Date.now();
      try {
        const data = await this.api.request("GET", this.threadPath(null), undefined, { fresh: true });
        this.setPremod(Boolean(data.article.premoderated));
        if (data.article.comments_closed && !this.closed) this.setClosed(true);
        const added = data.article.comment_count - this.count;
        // Offered, not inserted: the page never moves under the reader's eyes.
        this.fresh.textContent = this.t("new_comments", { n: added });
        this.fresh.hidden = added <= 0;
      } catch {
        // A missed check is simply tried again at the next one.
      } finally {
        this.checking = false;
      }
    }
    async showFresh() {
      await this.loadThread(true);
      const first = this.thread.querySelector(".eng-card");
      if (first) first.focus();
    }

    comment(c) {
      const li = h("li", { class: "eng-item", "data-comment-id": c.id });
      // The anchor is the focusable card: a browser following #comment-N focuses it too, rather than clearing focus.
      const card = h("article", { class: c.pinned && !c.deleted ? "eng-card eng-pinned" : "eng-card", id: "comment-" + c.id,
        tabindex: "-1", "aria-labelledby": `${this.id}-a${c.id}` });
      li.append(card);
      if (c.deleted) {
        card.classList.add("eng-deleted");
        card.append(h("p", { class: "eng-meta", id: `${this.id}-a${c.id}`, text: this.t("deleted") }));
      } else {
        this.fillCard(card, c);
      }
      const replies = h("ol", { class: "eng-replies" }, (c.replies || []).map((r) => this.comment(r)));
      li.append(replies);
      return li;
    }

    fillCard(card, c) {
      const author = c.author || {};
      const name = String(author.name || this.t("anonymous"));
      const own = this.edits()[c.id];
      const mine = Boolean(own) || this.ownIds().includes(c.id);
      const waiting = this.pending.has(c.id);
      const avatar = /^https:\/\//.test(author.avatar || "")
        ? h("img", { class: "eng-avatar", src: author.avatar, alt: "", loading: "lazy", referrerpolicy: "no-referrer" })
        : h("span", { class: "eng-avatar eng-av" + hashIndex(author.avatar || name, 8), "aria-hidden": "true", text: [...name.trim()][0] || "?" });
      const who = author.url && /^https?:\/\//i.test(author.url)
        ? h("a", { class: "eng-author", href: author.url, rel: "nofollow ugc noopener", text: name })
        : h("span", { class: "eng-author", text: name });
      who.id = `${this.id}-a${c.id}`;
      const time = h("time", { class: "eng-time", datetime: c.created_at, title: c.created_at, text: this.i18n.relative(c.created_at) });
      const meta = h("p", { class: "eng-meta" }, who, " ", waiting ? time : h("a", { class: "eng-permalink", href: "#comment-" + c.id }, time),
        c.edited_at ? h("span", { class: "eng-edited", title: c.edited_at, text: " · " + this.t("edited") }) : null,
        author.verified ? h("span", { class: "eng-badge eng-verified", title: this.t("verified_title"), text: "✓ " + this.t("verified") }) : null,
        c.pinned ? h("span", { class: "eng-badge eng-pin", text: this.t("pinned") }) : null,
        mine ? h("span", { class: "eng-badge", text: this.t("you") }) : null,
        waiting ? h("span", { class: "eng-badge eng-wait", text: this.t("waiting") }) : null);
      const body = h("div", { class: "eng-body" });
      body.append(bodyHtml(c.body_html));
      const note = h("p", { class: "eng-msg", "aria-live": "polite" });
      card.replaceChildren(h("header", { class: "eng-head" }, avatar, meta), body,
        waiting ? null : this.actions(c, card, own, mine, note), note);
    }

    /* Only what the server will accept: the score and "Copy link" on a closed thread, no votes or report on one's own. */
    actions(c, card, own, mine, note) {
      const t = (key) => this.t(key);
      const myVote = (store.get(this.store("votes"), {})[c.id]) || 0;
      const bar = h("div", { class: "eng-actions" });
      const score = h("span", { class: "eng-score", text: String(c.score) });
      const vote = (value, arrow, label) => h("button", { type: "button", class: "eng-vote", "data-vote": value,
        "aria-pressed": myVote === value ? "true" : "false", title: label,
        on: { click: () => this.vote(c, value, bar, score, note) } },
        h("span", { "aria-hidden": "true", text: arrow }), srOnly(label));
      bar.append(this.closed || mine ? h("span", { class: "eng-votes" }, score, srOnly(" " + t("points")))
        : h("span", { class: "eng-votes", role: "group", "aria-label": t("votes") },
          vote(1, "▲", t("upvote")), score, srOnly(" " + t("points")), vote(-1, "▼", t("downvote"))));
      const link = h("button", { type: "button", class: "eng-link eng-copy", on: { click: () => this.copyLink(c, note) } }, t("copy_link"));
      const links = h("span", { class: "eng-links" });
      if (!this.closed) links.append(h("button", { type: "button", class: "eng-link eng-reply-btn", "aria-expanded": "false",
        on: { click: (ev) => this.toggleReply(c, card, ev.currentTarget) } }, t("reply")));
      if (own && !this.closed) {
        links.append(h("span", { class: "eng-own", "data-expires": own.createdAt + this.window },
          h("button", { type: "button", class: "eng-link", on: { click: () => this.startEdit(c, card, note) } }, t("edit")),
          h("button", { type: "button", class: "eng-link", on: { click: (ev) => this.confirmDelete(c, card, ev.currentTarget, note) } }, t("delete"))));
      }
      links.append(link);
      if (!mine && !this.closed) links.append(h("button", { type: "button", class: "eng-link eng-flag-btn", "aria-expanded": "false",
        on: { click: (ev) => this.toggleFlag(c, card, ev.currentTarget, note) } }, t("report")));
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
      const id = `${this.id}-f${++seq}`, t = (key, vars) => this.t(key, vars);
      const profile = store.get(this.store("profile"), {}), signed = this.api.signed();
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
      const notify = replyMailChoice(this, id, t);
      const urlIn = h("input", { name: "url", type: "url", maxlength: 2000, autocomplete: "url", placeholder: "https://", class: "eng-input", value: profile.url || null });
      // Honeypot for bots, hidden from people and screen readers; the API calls it "website".
      const trap = h("input", { name: "website", type: "text", tabindex: "-1", autocomplete: "off", id: id + "-hp" });
      const msg = h("p", { class: "eng-msg", "aria-live": "polite" });
      const submit = h("button", { type: "submit", class: "eng-btn eng-primary" }, t(parent ? "post_reply" : "post_comment"));
      const form = h("form", { class: "eng-form", novalidate: true,
        "aria-label": parent ? t("reply_to", { name: (parent.author && parent.author.name) || t("anonymous") }) : t("write_comment") },
        field("body", t(parent ? "your_reply" : "your_comment"), text, t("markdown_hint")),
        h("p", { class: "eng-hint eng-premod", hidden: !this.premod, text: t("premoderated") }),
        signed ? h("p", { class: "eng-hint eng-as", text: t("signed_in_as", { name: signed.me.name || t("anonymous") }) })
          : h("div", { class: "eng-row" },
            field("name", t("name"), nameIn),
            field("email", t("email"), emailIn, t("email_hint")),
            field("url", t("website"), urlIn)),
        notify.el,
        h("div", { class: "eng-hp", "aria-hidden": "true" }, h("label", { for: trap.id, text: t("honeypot") }), trap),
        h("div", { class: "eng-form-foot" }, submit,
          close ? h("button", { type: "button", class: "eng-link", on: { click: close } }, t("cancel")) : null),
        msg);
      const send = async () => {
        this.clearFieldErrors(form);
        clearMsg(msg);
        if (!text.value.trim()) { this.fieldErrors(form, { body: [t("write_first")] }, true); return; }
        // A website typed without a scheme ("example.org") means the https:// one.
        const site = urlIn.value.trim();
        const payload = { body: text.value, author_name: nameIn.value.trim(), author_email: emailIn.value.trim(),
          author_url: site && !/^[a-z][a-z0-9+.-]*:\/\//i.test(site) ? "https://" + site : site, website: trap.value };
        if (parent) payload.parent_id = parent.id;
        if (notify.wanted()) payload.notify = true;
        submit.disabled = true;
        let wait = 0;
        try {
          const posted = await this.api.request("POST", this.path + "/comments", payload, { reader: true });
          if (!signed) store.set(this.store("profile"), { name: payload.author_name, url: payload.author_url });
          this.saveEdit(posted.id, { token: posted.edit_token, createdAt: Date.now(), body: payload.body });
          this.rememberOwn(posted.id);
          this.changed();
          text.value = "";
          this.placePosted(posted, parent, msg);
          if (close) close();
        } catch (err) {
          if (err.status === 422 && err.fields && this.fieldErrors(form, err.fields)) { this.showError(msg, err); return; }
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
      showInfo(parent ? item.querySelector(".eng-msg") : msg, this.t(held ? "posted_held" : parent ? "posted_reply" : "posted_comment"));
      item.querySelector(".eng-card").focus();
    }

    placeItem(item, parent, held) {
      if (held) item.classList.add("eng-waiting");
      const host = parent && this.item(parent.id);
      const replies = host && host.querySelector(":scope > .eng-replies");
      if (replies || this.sort === "oldest") (replies || this.thread).append(item); else this.thread.prepend(item);
      return item;
    }

    /** The edit box replaces the text, opens at its top, and hides the comment's actions until it closes. */
    startEdit(c, card, note) {
      if (card.querySelector(".eng-edit")) return;
      const own = this.edits()[c.id];
      if (!own) { showInfo(note, this.t("edit_window_over")); return; }
      const body = card.querySelector(".eng-body"), actions = card.querySelector(".eng-actions");
      const id = `${this.id}-e${c.id}`;
      const text = h("textarea", { id, name: "body", rows: 6, maxlength: 10000, class: "eng-input" });
      text.value = own.body || body.textContent;
      const err = h("p", { class: "eng-field-error", id: id + "-err", hidden: true });
      const save = h("button", { type: "submit", class: "eng-btn eng-primary" }, this.t("save"));
      const close = () => { editForm.remove(); body.hidden = false; actions.hidden = false; card.focus(); };
      const editForm = h("form", { class: "eng-edit", novalidate: true },
        h("div", { class: "eng-field", "data-field": "body" }, h("label", { for: id, text: this.t("edit_comment") }), text, err),
        h("div", { class: "eng-form-foot" }, save,
          h("button", { type: "button", class: "eng-link", on: { click: close } }, this.t("cancel"))));
      const submit = async () => {
        this.clearFieldErrors(editForm);
        clearMsg(note);
        save.disabled = true;
        try {
          const updated = await this.api.request("PATCH", `/api/v1/comments/${encodeURIComponent(c.id)}`, { body: text.value }, { edit: own.token, reader: true });
          this.saveEdit(c.id, { ...own, body: text.value });
          this.changed();
          this.fillCard(card, { ...c, ...updated });
          showInfo(card.querySelector(".eng-msg"), this.t("updated"));
          card.focus();
        } catch (e) {
          save.disabled = false;
          if (e.status === 422 && e.fields && this.fieldErrors(editForm, e.fields)) return;
          if (e.status === 403 && e.code === "forbidden") { this.saveEdit(c.id, null); close(); showInfo(note, this.t("edit_window_over")); return; }
          this.fail(note, e, submit);
        }
      };
      editForm.addEventListener("submit", (ev) => { ev.preventDefault(); submit(); });
      body.hidden = true;
      actions.hidden = true;
      body.after(editForm);
      text.focus({ preventScroll: true });
      text.setSelectionRange(0, 0);
      text.scrollTop = 0;
      editForm.scrollIntoView({ block: "nearest" });
    }

    confirmDelete(c, card, button, note) {
      const own = this.edits()[c.id];
      if (!own) { showInfo(note, this.t("edit_window_over")); return; }
      const box = h("span", { class: "eng-confirm", role: "group", "aria-label": this.t("confirm_delete_label") }, this.t("confirm_delete") + " ");
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
            card.replaceChildren(h("p", { class: "eng-meta", id: `${this.id}-a${c.id}`, text: this.t("deleted") }));
          } else {
            item.remove();
          }
          this.setCount(this.count - 1);
          showInfo(this.status, this.t("removed"));
        } catch (e) {
          yes.disabled = false;
          this.fail(note, e);
        }
      } } }, this.t("yes_delete"));
      box.append(yes, " ", h("button", { type: "button", class: "eng-link", on: { click: cancel } }, this.t("keep_it")));
      button.hidden = true;
      button.after(box);
      yes.focus();
    }

    toggleFlag(c, card, button, note) {
      const open = card.querySelector(":scope > .eng-flag");
      if (open) { open.remove(); button.setAttribute("aria-expanded", "false"); button.focus(); return; }
      const id = `${this.id}-r${c.id}`, t = (key) => this.t(key);
      const reason = h("select", { id, name: "reason", class: "eng-select" }, FLAG_REASONS.map((v) => h("option", { value: v, text: t("reason_" + v) })));
      const extra = h("input", { id: id + "-note", name: "note", type: "text", maxlength: 500, class: "eng-input" });
      const send = h("button", { type: "submit", class: "eng-btn" }, t("send_report"));
      const form = h("form", { class: "eng-flag", "aria-label": t("report_comment") },
        h("div", { class: "eng-row" },
          h("div", { class: "eng-field" }, h("label", { for: id, text: t("reason") }), reason),
          h("div", { class: "eng-field" }, h("label", { for: id + "-note", text: t("report_note") }), extra)),
        h("div", { class: "eng-form-foot" }, send,
          h("button", { type: "button", class: "eng-link", on: { click: () => { form.remove(); button.setAttribute("aria-expanded", "false"); button.focus(); } } }, t("cancel"))));
      const submit = async () => {
        send.disabled = true;
        const payload = { reason: reason.value };
        if (extra.value.trim()) payload.note = extra.value.trim();
        try {
          await this.api.request("POST", `/api/v1/comments/${encodeURIComponent(c.id)}/flags`, payload, { reader: true });
          form.remove();
          button.textContent = t("reported");
          button.disabled = true;
          button.removeAttribute("aria-expanded");
          showInfo(note, t("reported_thanks"));
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

    /* -- field errors from a 422: {field: [problems]} shown next to the matching control -- */
    clearFieldErrors(form) {
      for (const box of form.querySelectorAll("[data-field]")) {
        const input = box.querySelector("input, textarea, select"), err = box.querySelector(".eng-field-error");
        input.removeAttribute("aria-invalid");
        const described = (input.getAttribute("aria-describedby") || "").split(" ").filter((x) => x && x !== err.id);
        if (described.length) input.setAttribute("aria-describedby", described.join(" ")); else input.removeAttribute("aria-describedby");
        err.hidden = true;
        err.textContent = "";
      }
    }
    /** Returns true when at least one problem could be placed next to its field. The service's own
        wording is for developers: readers get one plain sentence per field (own: the text is ours already). */
    fieldErrors(form, fields, own) {
      let first = null;
      for (const [name, problems] of Object.entries(fields)) {
        const box = form.querySelector(`[data-field="${FIELD_FOR[name] || "-"}"]`);
        if (!box) continue;
        const input = box.querySelector("input, textarea, select"), err = box.querySelector(".eng-field-error");
        err.textContent = own ? [].concat(problems).join(" ") : this.t("problem_" + FIELD_FOR[name]);
        err.hidden = false;
        input.setAttribute("aria-invalid", "true");
        input.setAttribute("aria-describedby", ((input.getAttribute("aria-describedby") || "") + " " + err.id).trim());
        first = first || input;
      }
      if (first) first.focus();
      return Boolean(first);
    }
  }

  const hashIndex = (s, n) => {
    let x = 0;
    for (const ch of String(s)) x = (x * 31 + ch.codePointAt(0)) >>> 0;
    return x % n;
  };

  /* ---- one clock for every widget: relative times, the end of edit windows, live-thread checks ---- */
  setInterval(() => {
    const visible = document.visibilityState === "visible";
    for (const w of widgets) {
      // A widget its page has removed (a single-page site moving on) is forgotten.
      if (!w.root.isConnected) { widgets.delete(w); continue; }
      for (const t of w.root.querySelectorAll("time.eng-time")) t.textContent = w.i18n.relative(t.getAttribute("datetime"));
      for (const own of w.root.querySelectorAll(".eng-own[data-expires]")) {
        if (Date.now() > Number(own.getAttribute("data-expires"))) own.remove();
      }
      // Hidden tabs never ask; a tab shown again asks at the next tick if its last check is old enough.
      if (visible) w.check();
    }
  }, TICK_MS);
  window.addEventListener("hashchange", () => { for (const w of widgets) w.followLink(); });

  const loadStylesheet = () => {
    if (document.querySelector("link[data-engagement-css]")) return;
    const explicit = document.querySelector("[data-engagement-api]");
    const base = SCRIPT_ORIGIN || (explicit && explicit.getAttribute("data-engagement-api")) || location.origin;
    document.head.append(h("link", { rel: "stylesheet", href: base.replace(/\/+$/, "") + CSS_PATH, "data-engagement-css": "" }));
  };

  const mount = async (el) => {
    if (el.hasAttribute("data-engagement-mounted")) return;
    el.setAttribute("data-engagement-mounted", "");
    const base = (el.getAttribute("data-engagement-api") || SCRIPT_ORIGIN || location.origin).replace(/\/+$/, "");
    const jwt = el.getAttribute("data-engagement-sso-token");
    // A refused sign-in leaves the reader anonymous; the page can call EngagementWidget.signIn again.
    if (jwt) await clientFor(base).signIn(jwt).catch(() => null);
    widgets.add(new Widget(el, await messagesFor(el, base)));
  };
  /** Sign in (or out, jwt null) with every widget's service that has sign-on, then draw the widgets
      again as that reader; resolves with who the reader now is, rejects when no service took the token. */
  const signIn = async (jwt) => {
    const all = new Set([...widgets].map((w) => w.api));
    if (!all.size) all.add(clientFor(SCRIPT_ORIGIN || location.origin));
    const results = await Promise.allSettled([...all].map((c) => (jwt ? c.signIn(jwt) : c.signOut())));
    for (const w of widgets) { w.formSlot.replaceChildren(); w.loadThread(true); }
    const done = results.find((r) => r.status === "fulfilled");
    if (!done) throw results[0].reason;
    return done.value;
  };
  const scan = () => {
    const found = document.querySelectorAll("[data-engagement-article]");
    if (found.length) loadStylesheet();
    found.forEach(mount);
  };
  window.EngagementWidget = Object.freeze({ scan, mount: (el) => { loadStylesheet(); return mount(el); }, messages: EN,
    signIn, signOut: () => signIn(null) });
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", scan); else scan();
})();
