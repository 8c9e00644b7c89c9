/* The demo article page: reading time, the view count and the "Most read" box, all from the public API.
   The API is wherever the page loads the widget from. Text only: nothing from the API is parsed as HTML. */
(() => {
  "use strict";
  const widget = document.querySelector("[data-engagement-article]");
  const embed = document.querySelector('script[src*="embed"]');
  const api = embed ? new URL(embed.src, location.href).origin : location.origin;
  const key = widget.getAttribute("data-engagement-article");
  const views = document.getElementById("view-count");
  const list = document.getElementById("most-read");
  let beaconSeen = false;

  const plural = (n, one, many) => `${n.toLocaleString()} ${n === 1 ? one : many}`;
  const getJson = async (path, cache = "default") => {
    const response = await fetch(api + path, { headers: { Accept: "application/json" }, credentials: "omit", cache });
    if (!response.ok) throw new Error(String(response.status));
    return response.json();
  };

  const words = document.getElementById("story-body").textContent.trim().split(/\s+/).length;
  document.getElementById("read-time").textContent = `${Math.max(1, Math.round(words / 220))} min read`;

  const showViews = (n) => { views.textContent = plural(n, "view", "views"); };

  const loadArticle = async () => {
    try {
      const article = await getJson(`/api/v1/articles/${encodeURIComponent(key)}`);
      if (!beaconSeen) showViews(article.views);
    } catch {
      if (!beaconSeen) showViews(0);
    }
  };

  const safeHref = (url) => {
    try { return ["http:", "https:"].includes(new URL(url).protocol) ? url : null; } catch { return null; }
  };

  // Only the newest request's answer is shown: the one sent after this page's view counted
  // must not be replaced by an earlier one that arrives late.
  let trendingRequest = 0;
  const loadTrending = async (cache) => {
    const request = ++trendingRequest;
    try {
      const data = await getJson("/api/v1/trending?window=7d&limit=10", cache);
      if (request !== trendingRequest) return;
      // An article without a title is left out: its key is an identifier, not a headline.
      const titled = data.articles.filter((item) => item.title && item.title.trim()).slice(0, 5);
      if (!titled.length) {
        list.replaceChildren(Object.assign(document.createElement("li"), { className: "muted", textContent: "Nothing to rank yet." }));
        return;
      }
      list.replaceChildren(...titled.map((item) => {
        const li = document.createElement("li");
        const link = document.createElement("a");
        link.href = safeHref(item.url) || `?article=${encodeURIComponent(item.key)}`;
        link.textContent = item.title;
        const meta = document.createElement("span");
        meta.className = "muted";
        meta.textContent = `${plural(item.views, "view", "views")} · ${plural(item.comments, "comment", "comments")}`;
        li.append(link, meta);
        return li;
      }));
    } catch {
      if (request !== trendingRequest) return;
      list.replaceChildren(Object.assign(document.createElement("li"), { className: "muted", textContent: "Most read is unavailable right now." }));
    }
  };

  const onViews = (n) => {
    beaconSeen = true;
    showViews(n);
    // Revalidate: the browser may hold the answer from before this view (and the title the
    // widget's beacon may just have given the article) for the response's max-age.
    loadTrending("no-cache");
  };
  widget.addEventListener("engagement:views", (event) => onViews(event.detail.views));
  // The widget loads asynchronously and may have counted the view before this script ran.
  if (widget.hasAttribute("data-engagement-views")) onViews(Number(widget.getAttribute("data-engagement-views")));
  else loadTrending();
  loadArticle();
})();
