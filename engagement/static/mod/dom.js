// Building the page from API data: text always goes in as text; the one way HTML goes in is
// sanitisedBody, which re-applies the service's allowlist in an inert <template> (as the
// reader widget does) through the page's only Trusted Types policy.

const ALLOWED = { P: [], BR: [], EM: [], STRONG: [], DEL: [], S: [], CODE: ["class"], PRE: ["class"],
  BLOCKQUOTE: [], UL: [], OL: ["start"], LI: [], A: ["href", "title", "rel"], HR: [] };

// The CSP requires Trusted Types and names this policy; the sanitiser below is its only user.
const policy = window.trustedTypes
  ? trustedTypes.createPolicy("engagement-console", { createHTML: (s) => s })
  : { createHTML: (s) => s };

export const safeUrl = (href) => {
  try { return ["http:", "https:", "mailto:"].includes(new URL(href, location.href).protocol); } catch { return false; }
};

const cleanTree = (parent) => {
  for (const el of [...parent.children]) {
    const allowed = ALLOWED[el.tagName];
    if (!allowed) { el.remove(); continue; }
    for (const attr of [...el.attributes]) if (!allowed.includes(attr.name)) el.removeAttribute(attr.name);
    if (el.tagName === "A") {
      if (el.hasAttribute("href") && !safeUrl(el.getAttribute("href"))) el.removeAttribute("href");
      el.setAttribute("rel", "nofollow ugc noopener noreferrer");
      el.setAttribute("target", "_blank");
    }
    cleanTree(el);
  }
};

/** A fragment of the comment's sanitised HTML, checked again against the allowlist. */
export function sanitisedBody(html) {
  const tpl = document.createElement("template");
  tpl.innerHTML = policy.createHTML(html || "");
  cleanTree(tpl.content);
  return tpl.content;
}

/** h("p.note", {title: "x", onclick: fn}, "text", child): an element; strings become text nodes. */
export function h(tag, attrs, ...children) {
  const [name, ...classes] = tag.split(".");
  const el = document.createElement(name);
  if (classes.length) el.className = classes.join(" ");
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

const relative = new Intl.RelativeTimeFormat("en", { numeric: "auto" });
const exact = new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeStyle: "short", timeZone: "UTC" });
const STEPS = [["year", 31536000], ["month", 2592000], ["day", 86400], ["hour", 3600], ["minute", 60]];

/** <time> with the relative time as text and the exact UTC time on hover. */
export function timeEl(iso) {
  const when = new Date(iso);
  const seconds = (when.getTime() - Date.now()) / 1000;
  let text = "just now";
  for (const [unit, size] of STEPS) {
    if (Math.abs(seconds) >= size) { text = relative.format(Math.round(seconds / size), unit); break; }
  }
  return h("time", { datetime: iso, title: `${exact.format(when)} UTC` }, text);
}

const live = () => document.getElementById("live");

/** Tell screen readers (and everyone, in the toast) what just happened. */
export function announce(message) {
  live().textContent = "";
  // A fresh text node, so the same message twice is still read out.
  requestAnimationFrame(() => { live().textContent = message; });
}
