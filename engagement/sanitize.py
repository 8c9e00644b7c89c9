"""The one sanitiser: reader Markdown in, safe HTML out.

This is the only module that imports bleach and the Markdown parser, so the
whole HTML policy (API.md, "Sanitisation") lives here and is tested by the
table of hostile inputs in ``tests/test_sanitize.py``.
"""

import html
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from html.parser import HTMLParser
from typing import Any

from bleach.html5lib_shim import HTML_TAGS_BLOCK_LEVEL, Filter
from bleach.linkifier import LinkifyFilter, build_url_re
from bleach.sanitizer import BleachSanitizerFilter, Cleaner
from markdown_it import MarkdownIt
from markdown_it.common.utils import MD_TRIM_RE, escapeHtml, mdTrim, unescapeAll
from markdown_it.token import Token

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


def _reading_cleaner() -> tuple[Cleaner, "_ReadingSlot"]:
    """The thread's cleaner whose last filter reads the text off the sanitised tokens
    (``_ReadBack``), with the slot each call's reading goes into."""
    kept = getattr(_local, "reading_cleaner", None)
    if kept is None:
        slot = _ReadingSlot()
        options = dict(_cleaner_options)
        options["filters"] = [*_cleaner_options["filters"], partial(_ReadBack, slot=slot)]
        kept = _local.reading_cleaner = (Cleaner(**options), slot)
    return kept


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
    return _sanitised_markdown(_cleaner(), source)


def _sanitised_markdown(cleaner: Cleaner, source: str) -> str:
    """``cleaner.clean`` of markdown-it's HTML for ``source``, without writing and re-parsing it.

    bleach's cleaner parses HTML into html5lib tokens, then runs its sanitiser filter,
    the cleaner's own filters and its serializer over them. markdown-it's tokens are
    handed to that same sanitiser, filters and serializer as the html5lib tokens the
    parser would have made of the HTML markdown-it writes (``_ParsedStream``): writing
    and parsing that HTML was about half of what sanitising a comment cost. Property
    tests hold the stream to the parser's tokens and the output to ``cleaner.clean``'s.
    A body with a token the stream does not know takes the parsing way.
    """
    tokens = _markdown.parse(strip_unsafe_codepoints(source))
    parsed = _ParsedStream(cleaner.tags, _markdown).tokens(tokens)
    if parsed is None:
        return cleaner.clean(_markdown.renderer.render(tokens, _markdown.options, {})).strip()
    filtered = BleachSanitizerFilter(
        source=parsed,
        allowed_tags=cleaner.tags,
        attributes=cleaner.attributes,
        strip_disallowed_tags=cleaner.strip,
        strip_html_comments=cleaner.strip_comments,
        css_sanitizer=cleaner.css_sanitizer,
        allowed_protocols=cleaner.protocols,
    )
    for filter_class in cleaner.filters:
        filtered = filter_class(source=filtered)
    return cleaner.serializer.render(filtered).strip()


# html5lib's white space, by which its tree walker splits text (treewalkers.base.text).
_HTML_SPACE = " \t\n\r\x0c"
_VOID_TAGS = frozenset({"br", "hr", "img"})
# markdown-it's tokens whose HTML is written by renderToken (a tag and its attributes).
_TAG_TOKENS = frozenset({
    "paragraph_open", "paragraph_close", "blockquote_open", "blockquote_close",
    "bullet_list_open", "bullet_list_close", "ordered_list_open", "ordered_list_close",
    "list_item_close", "heading_open", "heading_close", "hr",
    "em_open", "em_close", "strong_open", "strong_close", "s_open", "s_close",
})


class _Unknown(Exception):
    """A token ``_ParsedStream`` does not know how markdown-it writes."""


class _ParsedStream:
    """The html5lib tokens bleach's parser and tree walker make of markdown-it's HTML.

    Written from markdown-it's tokens as its renderer (``RendererHTML``, with this
    module's image and link rules) writes them: text escaped as the renderer escapes
    it (bleach's parser leaves entities for its sanitiser to read), the renderer's new
    lines between block tags, attributes in its order. Then what the parser does to that
    HTML: a tag outside the allowlist is dropped, a block-level one leaving a new line
    once any tag came before it (bleach's tokenizer, ``strip=True``); the text between
    two tags is one node, which the walker splits into leading white space, the rest and
    trailing white space.
    """

    def __init__(self, allowed_tags: frozenset[str], markdown: MarkdownIt) -> None:
        self._allowed = allowed_tags
        self._renderer = markdown.renderer
        self._options = markdown.options
        self._out: list[dict[str, Any]] = []
        self._text: list[str] = []
        self._tagged = False
        self._in_link = False

    def tokens(self, blocks: list[Token]) -> list[dict[str, Any]] | None:
        """The stream for a parsed document, or None if it holds a token not known here."""
        try:
            self._blocks(blocks)
        except _Unknown:
            return None
        self._flush()
        return self._out

    def _blocks(self, tokens: list[Token]) -> None:
        for index, token in enumerate(tokens):
            kind = token.type
            if kind == "inline":
                self._inline(token.children or [])
            elif kind == "fence" or kind == "code_block":
                self._code_block(token)
            elif kind in _TAG_TOKENS or (kind == "list_item_open" and "checked" not in (token.meta or {})):
                self._render_token(tokens, index)
            else:
                raise _Unknown(kind)

    def _inline(self, tokens: list[Token]) -> None:
        for index, token in enumerate(tokens):
            kind = token.type
            if kind == "text":
                self._text.append(escapeHtml(token.content))
            elif kind == "softbreak" or kind == "hardbreak":
                if kind == "hardbreak" or self._options.breaks:
                    self._tag("EmptyTag", "br")
                self._text.append("\n")
            elif kind == "code_inline":
                self._tag("StartTag", "code", token.attrs)
                self._text.append(escapeHtml(token.content))
                self._tag("EndTag", "code")
            elif kind == "image":
                self._image(token)
            elif kind == "link_open" or kind == "link_close":
                if kind == "link_open" and self._in_link:
                    # An autolink in a link's text: html5lib's tree builder takes nested
                    # anchors apart (the adoption agency), which the parsing way does.
                    raise _Unknown("nested link")
                self._in_link = kind == "link_open"
                self._render_token(tokens, index)
            elif kind in _TAG_TOKENS:
                self._render_token(tokens, index)
            else:
                raise _Unknown(kind)

    def _render_token(self, tokens: list[Token], index: int) -> None:
        # RendererHTML.renderToken, new lines included.
        token = tokens[index]
        if token.hidden:
            return
        if token.block and token.nesting != -1 and index and tokens[index - 1].hidden:
            self._text.append("\n")
        if token.nesting == -1:
            self._tag("EndTag", token.tag)
        elif token.nesting == 1:
            self._tag("StartTag", token.tag, token.attrs)
        elif token.tag in _VOID_TAGS:
            self._tag("EmptyTag", token.tag, token.attrs)
        else:
            raise _Unknown(token.type)
        if token.block:
            following = tokens[index + 1] if token.nesting == 1 and index + 1 < len(tokens) else None
            if following is None or not (
                following.type == "inline" or following.hidden
                or (following.nesting == -1 and following.tag == token.tag)
            ):
                self._text.append("\n")

    def _code_block(self, token: Token) -> None:
        # RendererHTML.code_block and .fence (no highlighter): the fence's language
        # joins its class attribute, on a copy of the token's attributes as there.
        if token.type == "fence":
            if self._options.highlight:
                raise _Unknown("highlighted fence")
            code = Token("", "", 0, attrs=dict(token.attrs))
            info = mdTrim(unescapeAll(token.info)) if token.info else ""
            if info:
                code.attrJoin("class", self._options.langPrefix + MD_TRIM_RE.split(info, maxsplit=1)[0])
            self._tag("StartTag", "pre")
            self._tag("StartTag", "code", code.attrs)
        else:
            self._tag("StartTag", "pre", token.attrs)
            self._tag("StartTag", "code")
        self._text.append(escapeHtml(token.content))
        self._tag("EndTag", "code")
        self._tag("EndTag", "pre")
        self._text.append("\n")

    def _image(self, token: Token) -> None:
        # _render_image_as_link: inside a link only its alt text, else a link to its target.
        alt = escapeHtml(self._renderer.renderInlineAsText(token.children or [], self._options, {}))
        if self._in_link:
            self._text.append(alt)
            return
        source = str(token.attrGet("src") or "")
        self._tag("StartTag", "a", {"href": source})
        self._text.append(alt or escapeHtml(source))
        self._tag("EndTag", "a")

    def _tag(self, kind: str, name: str, attributes: Any = None) -> None:
        if name not in self._allowed:
            if kind == "StartTag" and self._tagged and name in HTML_TAGS_BLOCK_LEVEL:
                self._text.append("\n")
            self._tagged = True
            return
        self._tagged = True
        self._flush()
        if kind == "EndTag":
            self._out.append({"type": kind, "name": name, "namespace": None})
            return
        data = {(None, key): escapeHtml(str(value)) for key, value in (attributes or {}).items()}
        self._out.append({"type": kind, "name": name, "namespace": None, "data": data})

    def _flush(self) -> None:
        if not self._text:
            return
        text = "".join(self._text)
        self._text.clear()
        rest = text.lstrip(_HTML_SPACE)
        if len(rest) < len(text):
            self._out.append({"type": "SpaceCharacters", "data": text[: len(text) - len(rest)]})
        middle = rest.rstrip(_HTML_SPACE)
        if middle:
            self._out.append({"type": "Characters", "data": middle})
        if len(middle) < len(rest):
            self._out.append({"type": "SpaceCharacters", "data": rest[len(middle):]})


def render_html(source: str) -> str:
    """Sanitise an HTML body written elsewhere (imported from Disqus or WordPress).

    The same allowlist and link rules as ``render_markdown``, with HTML as the input:
    allowed elements stay, the others are removed keeping their text, comments and
    disallowed attributes go, bare URLs are linkified. Never raises for any ``str``.
    """
    return _cleaner().clean(strip_unsafe_codepoints(source)).strip()


@dataclass(frozen=True)
class RenderedBody:
    """A body rendered once, with the facts the moderation policy judges.

    ``html`` is what ``render_markdown`` returns. ``text`` is the text a reader sees,
    entities decoded, block elements separated by new lines and inline ones joined
    (``id<strong>io</strong>t`` reads ``idiot``), code included. ``link_count`` is the
    number of ``a`` elements. Outside code spans and blocks, the rest of the text is
    sorted three ways: ``shown_urls``, the texts of links that show their own URL;
    ``plain_urls``, words that are URLs the linkifier left as text (unknown top-level
    domain, an address, ``localhost``), not clickable but there to be copied; and
    ``prose``, every other word, one space apart.
    """

    html: str
    text: str
    link_count: int
    prose: str
    shown_urls: tuple[str, ...]
    plain_urls: tuple[str, ...]


# Elements that start a new line on screen (the rest of ALLOWED_TAGS are inline).
_BLOCK_TAGS = frozenset({"p", "br", "pre", "blockquote", "ul", "ol", "li", "hr"})
_CODE_TAGS = frozenset({"code", "pre"})


def _looks_like_a_url(word: str) -> bool:
    return "://" in word or "www." in word.casefold()


def _shows_its_url(text: str, href: str) -> bool:
    # Autolinks and linkified URLs show their target (bare domains gain http://,
    # e-mail addresses mailto:); a link text that is a URL is a URL either way.
    text = text.strip()
    return text in (href, href.partition("//")[2], href.removeprefix("mailto:")) or _looks_like_a_url(text)


class _Reading:
    """What ``RenderedBody`` reports, collected in one pass over sanitised HTML: its
    start tags (with an anchor's href), end tags and text, in document order."""

    def __init__(self) -> None:
        self.text: list[str] = []
        self.prose: list[str] = []
        self.shown_urls: list[str] = []
        self.link_count = 0
        self._code_depth = 0
        self._anchor: tuple[str, list[str]] | None = None

    def start(self, tag: str, href: str | None) -> None:
        if tag in _BLOCK_TAGS:
            self._break()
        if tag in _CODE_TAGS:
            self._code_depth += 1
        elif tag == "a":
            self.link_count += 1
            self._anchor = (href or "", [])

    def end(self, tag: str) -> None:
        if tag in _BLOCK_TAGS:
            self._break()
        if tag in _CODE_TAGS:
            self._code_depth = max(0, self._code_depth - 1)
        elif tag == "a" and self._anchor is not None:
            href, parts = self._anchor
            self._anchor = None
            shown = "".join(parts)
            if _shows_its_url(shown, href):
                self.shown_urls.append(shown.strip())
            else:
                self.prose.append(shown)

    def data(self, data: str) -> None:
        self.text.append(data)
        if self._code_depth:
            self.prose.append(" ")
        elif self._anchor is not None:
            self._anchor[1].append(data)
        else:
            self.prose.append(data)

    def _break(self) -> None:
        self.text.append("\n")
        self.prose.append("\n")


class _TextExtractor(HTMLParser):
    """``_Reading`` of stored HTML (``plain_text``), parsed by ``html.parser`` (never a regex)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.reading = _Reading()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.reading.start(tag, dict(attrs).get("href") if tag == "a" else None)

    def handle_endtag(self, tag: str) -> None:
        self.reading.end(tag)

    def handle_data(self, data: str) -> None:
        self.reading.data(data)


class _ReadingSlot:
    """Where ``_ReadBack`` puts the reading of the body being cleaned (one per thread's cleaner)."""

    reading: _Reading | None = None


_HREF = (None, "href")


class _ReadBack(Filter):  # type: ignore[misc]
    """The cleaner's last filter: reads the tokens the serializer is about to write, so
    a rendered body is parsed once (by bleach) rather than parsed again to be read.

    The serializer writes character data escaped and entities as they are, and leaves
    an entity in an attribute value for the browser to decode: the reading decodes them
    as a browser (and ``html.parser``) does. Void elements (``br``, ``hr``) have a start
    only, as in the HTML written.
    """

    def __init__(self, source: Any, slot: _ReadingSlot) -> None:
        super().__init__(source)
        self._reading = slot.reading = _Reading()

    def __iter__(self) -> Iterator[dict[str, Any]]:
        reading = self._reading
        for token in super().__iter__():
            kind = token["type"]
            if kind == "Characters" or kind == "SpaceCharacters":
                reading.data(token["data"])
            elif kind == "Entity":
                reading.data(html.unescape(f"&{token['name']};"))
            elif kind == "StartTag" or kind == "EmptyTag":
                name = token["name"]
                href = token["data"].get(_HREF) if name == "a" else None
                reading.start(name, html.unescape(href) if href else href)
            elif kind == "EndTag":
                reading.end(token["name"])
            yield token


def plain_text(html: str) -> str:
    """The text a reader sees in sanitised HTML, blocks on lines of their own (for plain-text mail)."""
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    paragraphs = "".join(extractor.reading.text).split("\n\n")
    return "\n\n".join(
        "\n".join(line.rstrip() for line in paragraph.splitlines() if line.strip())
        for paragraph in paragraphs if paragraph.strip()
    )


def render_body(source: str) -> RenderedBody:
    """Render ``source`` as ``render_markdown`` does and read back what readers will see.

    The text is read off the sanitised tokens as they are serialised (``_ReadBack``),
    never with a regex, so every anchor counts as a link however it was written
    (Markdown and reference links, autolinks, linkified bare domains, ``http&#58;//``
    decoded), exactly as ``html.parser`` reads the HTML returned (a property test holds
    the two to agreeing). Same guarantees as ``render_markdown``: never raises, roughly
    linear time.
    """
    cleaner, slot = _reading_cleaner()
    html_out = _sanitised_markdown(cleaner, source)
    reading = slot.reading or _Reading()  # Cleaner.clean (the parsing way) runs no filter over ""
    slot.reading = None
    prose: list[str] = []
    plain_urls: list[str] = []
    for word in "".join(reading.prose).split():
        (plain_urls if _looks_like_a_url(word) else prose).append(word)
    return RenderedBody(
        html=html_out,
        text="".join(reading.text).strip(),
        link_count=reading.link_count,
        prose=" ".join(prose),
        shown_urls=tuple(reading.shown_urls),
        plain_urls=tuple(plain_urls),
    )
