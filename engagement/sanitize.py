"""The one sanitiser: reader Markdown in, safe HTML out.

This is the only module that imports bleach and the Markdown parser, so the
whole HTML policy (API.md, "Sanitisation") lives here and is tested by the
table of hostile inputs in ``tests/test_sanitize.py``.
"""

import re
import threading
from functools import partial

from bleach.linkifier import LinkifyFilter, build_url_re
from bleach.sanitizer import Cleaner
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml

from .text import strip_unsafe_codepoints

ALLOWED_TAGS = frozenset(
    {"p", "br", "em", "strong", "del", "s", "code", "pre", "blockquote",
     "ul", "ol", "li", "a", "hr"}
)
ALLOWED_PROTOCOLS = frozenset({"http", "https", "mailto"})
LINK_REL = "nofollow ugc noopener"

_CODE_LANGUAGE = re.compile(r"language-[A-Za-z0-9_+-]{1,30}")
_DIGITS = re.compile(r"[0-9]{1,9}")
_LINK_ATTRIBUTES = frozenset({"href", "rel", "title"})
_LINK_KEYS = frozenset({(None, name) for name in _LINK_ATTRIBUTES} | {"_text"})


def _allow_attribute(tag: str, name: str, value: str) -> bool:
    if tag == "a":
        return name in _LINK_ATTRIBUTES
    if tag == "code":
        return name == "class" and _CODE_LANGUAGE.fullmatch(value) is not None
    if tag == "ol":
        return name == "start" and _DIGITS.fullmatch(value) is not None
    return False


def _render_image_as_link(self, tokens, idx, options, env) -> str:
    # Images are not allowed (they would let a comment track its readers), but
    # their target is still useful: show a plain link whose text is the alt
    # text, or just the alt text inside a link (anchors cannot nest). The
    # cleaner below still vets the href.
    token = tokens[idx]
    alt = escapeHtml(self.renderInlineAsText(token.children or [], options, env))
    if env.get("in_link"):
        return alt
    src = escapeHtml(token.attrGet("src") or "")
    return f'<a href="{src}">{alt or src}</a>'


def _track_link(inside: bool):
    def render(self, tokens, idx, options, env) -> str:
        env["in_link"] = inside
        return self.renderToken(tokens, idx, options, env)
    return render


def _set_link_attributes(attrs: dict, new: bool = False) -> dict | None:
    # Runs on every anchor, Markdown's and linkified ones alike. An anchor
    # whose href the cleaner removed (bad scheme) is dropped, keeping its text.
    if (None, "href") not in attrs:
        return None
    # Only href/title survive from the source (target and the like go), and
    # rel is overwritten rather than merged.
    kept = {key: value for key, value in attrs.items() if key in _LINK_KEYS}
    kept[(None, "rel")] = LINK_REL
    return kept


_markdown = MarkdownIt(
    "commonmark",
    # html=False: raw HTML typed by a reader is escaped as text, never parsed.
    # maxNesting bounds block quote / list / emphasis depth, so hostile nesting
    # stays linear and the HTML handed to bleach stays shallow.
    {"html": False, "breaks": True, "linkify": False, "maxNesting": 20},
).enable("strikethrough")
_markdown.add_render_rule("image", _render_image_as_link)
_markdown.add_render_rule("link_open", _track_link(True))
_markdown.add_render_rule("link_close", _track_link(False))

_cleaner_options = dict(
    tags=ALLOWED_TAGS,
    attributes=_allow_attribute,
    protocols=ALLOWED_PROTOCOLS,
    strip=True,
    strip_comments=True,
    filters=[partial(
        LinkifyFilter,
        callbacks=[_set_link_attributes],
        skip_tags=["pre", "code"],
        parse_email=False,
        # Linkified URLs do not pass through the protocol check, so only
        # recognise web URLs (and bare domains, which become http://).
        url_re=build_url_re(protocols=["http", "https"]),
    )],
)
# bleach documents Cleaner as not thread-safe (its parser keeps state), so
# each thread gets its own; MarkdownIt keeps no per-call state and is shared.
_local = threading.local()


def _cleaner() -> Cleaner:
    cleaner = getattr(_local, "cleaner", None)
    if cleaner is None:
        cleaner = _local.cleaner = Cleaner(**_cleaner_options)
    return cleaner


def render_markdown(source: str) -> str:
    """Render a reader's Markdown body to HTML that is safe to embed.

    Contract: raw HTML in ``source`` comes out as escaped text; the result
    contains only the tags in ``ALLOWED_TAGS``; ``a`` carries only ``href``,
    ``title`` and ``rel`` (always exactly ``LINK_REL``), hrefs are http(s),
    mailto or relative; ``code`` may carry a ``language-*`` class and ``ol`` a
    numeric ``start``. Images become links to their target. NUL bytes and
    lone surrogates are dropped. Never raises for any ``str``; runs in roughly
    linear time however deeply the input nests.
    """
    html = _markdown.render(strip_unsafe_codepoints(source))
    return _cleaner().clean(html).strip()
