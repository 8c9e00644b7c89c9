"""The sanitiser against a table of hostile inputs, plus the features it keeps.

Every XSS finding becomes a row in ``HOSTILE``. Each row is rendered and the
output parsed with ``html.parser``; the assertions are on the parsed structure
(tags, attributes, link schemes), so hostile text that comes back escaped, like
``&lt;script&gt;``, is fine.
"""

import re
import threading
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engagement import sanitize
from engagement.sanitize import render_body, render_markdown

ALLOWED_ATTRIBUTES = {"a": {"href", "rel", "title"}, "code": {"class"}, "ol": {"start"}}
ALLOWED_TAGS = {"p", "br", "em", "strong", "del", "s", "code", "pre", "blockquote",
                "ul", "ol", "li", "a", "hr"}
ALLOWED_SCHEMES = {"http", "https", "mailto"}
REL = "nofollow ugc noopener"
SCHEME = re.compile(r"([a-z][a-z0-9+.\-]*):")
# What a browser ignores in a URL: C0 controls, space, and (anywhere) tab/newline.
URL_NOISE = re.compile(r"[\x00-\x20\x7f\s]+")
FORBIDDEN_MARKUP = ("<script", "<style", "<svg", "<math", "<img", "<iframe", "<object",
                    "<embed", "<form", "<input", "<button", "<meta", "<link", "<base",
                    "<noscript", "<template")


class _Collector(HTMLParser):
    """Records every start tag with its attributes, and anything that is not
    plain elements and text (comments, declarations, processing instructions)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.other: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, attrs))

    def handle_startendtag(self, tag, attrs):
        self.elements.append((tag, attrs))

    def handle_comment(self, data):
        self.other.append(f"comment {data!r}")

    def handle_decl(self, decl):
        self.other.append(f"declaration {decl!r}")

    def handle_pi(self, data):
        self.other.append(f"processing instruction {data!r}")

    def unknown_decl(self, data):
        self.other.append(f"unknown declaration {data!r}")


def _href_is_safe(href: str) -> bool:
    # html.parser has already resolved character references once, as a browser does.
    normalised = URL_NOISE.sub("", href).lower()
    scheme = SCHEME.match(normalised)
    return scheme is None or scheme.group(1) in ALLOWED_SCHEMES


def assert_safe(html: str) -> None:
    """Fail unless ``html`` holds only allowlisted tags, attributes and link targets."""
    lowered = html.lower()
    for markup in FORBIDDEN_MARKUP:
        assert markup not in lowered, (markup, html)
    collector = _Collector()
    collector.feed(html)
    collector.close()
    assert collector.other == [], html
    for tag, attrs in collector.elements:
        assert tag in ALLOWED_TAGS, (tag, html)
        names = [name for name, _ in attrs]
        assert len(names) == len(set(names)), (tag, attrs)
        assert set(names) <= ALLOWED_ATTRIBUTES.get(tag, set()), (tag, attrs)
        values = dict(attrs)
        if tag == "a":
            assert values.get("rel") == REL, attrs
            assert values.get("href") is not None, attrs
            assert _href_is_safe(values["href"]), attrs
        if "class" in values:
            assert re.fullmatch(r"language-[A-Za-z0-9_+-]{1,30}", values["class"] or ""), attrs
        if "start" in values:
            assert re.fullmatch(r"[0-9]+", values["start"] or ""), attrs


HOSTILE = [
    # Script tags in many spellings.
    "<script>alert(1)</script>",
    "<SCRIPT>alert(1)</SCRIPT>",
    "<ScRiPt src=//evil.example/x.js></ScRiPt>",
    '<script/src="//evil.example/x.js">',
    "<script\n>alert(1)</script\n>",
    "<<script>alert(1);//<</script>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    '<script type="text/javascript">alert(1)</script>',
    "</script><script>alert(1)</script>",
    "%3Cscript%3Ealert(1)%3C/script%3E",
    r"\u003cscript\u003ealert(1)\u003c/script\u003e",
    "\uff1cscript\uff1ealert(1)\uff1c/script\uff1e",
    "`<script>alert(1)</script>`",
    "```\n<script>alert(1)</script>\n```",
    "    <script>alert(1)</script>",
    "> <script>alert(1)</script>",
    "- <script>alert(1)</script>",
    "**<script>**alert(1)**</script>**",
    "[<script>alert(1)</script>](https://example.org)",
    "<script>alert(1)",
    # Event handlers: casings, whitespace and slash tricks.
    "<img src=x onerror=alert(1)>",
    "<IMG SRC=x ONERROR=alert(1)>",
    "<img src=x OnErRoR=alert(1)>",
    "<img/src=x/onerror=alert(1)>",
    "<img src=x onerror\n=alert(1)>",
    "<img src=x onerror\t=\talert(1)>",
    "<body onload=alert(1)>",
    '<div onmouseover="alert(1)">hover</div>',
    "<p onclick=alert(1)>x</p>",
    "<a onmouseover=alert(1)>x</a>",
    "<b/onclick=alert(1)>x</b>",
    "<em onfocus=alert(1) autofocus tabindex=1>x</em>",
    "<details open ontoggle=alert(1)>",
    "<video><source onerror=alert(1)></video>",
    "<audio src=x onerror=alert(1)>",
    "<marquee onstart=alert(1)>x</marquee>",
    "<input onfocus=alert(1) autofocus>",
    "<select onfocus=alert(1) autofocus>",
    "<textarea onfocus=alert(1) autofocus>",
    '<img src="x" onerror="&#97;lert(1)">',
    "<img src=x:alert(alt) onerror=eval(src) alt=0>",
    "<x onclick=alert(1)>click",
    '<p title="x" onmouseover="alert(1)">x</p>',
    "*x*<i onpointerover=alert(1)>y</i>",
    # javascript: in Markdown links.
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](JAVASCRIPT:alert(1))",
    "[x](&#106;avascript:alert(1))",
    "[x](&#x6A;avascript:alert(1))",
    "[x](&#x6a&#x61vascript:alert(1))",
    "[x](&#0000106;avascript:alert(1))",
    "[x](javascript&#58;alert(1))",
    "[x](javascript&colon;alert(1))",
    "[x](java\tscript:alert(1))",
    "[x](java&#09;script:alert(1))",
    "[x](java&#10;script:alert(1))",
    "[x](java&#x0A;script:alert(1))",
    "[x](java&#13;script:alert(1))",
    "[x](jav&Tab;ascript:alert(1))",
    "[x](javascript&NewLine;:alert(1))",
    "[x](<java\nscript:alert(1)>)",
    "[x](%6Aavascript:alert(1))",
    "[x](javascript%3Aalert(1))",
    "[x](java%09script:alert(1))",
    "[x]( javascript:alert(1))",
    "[x](   javascript:alert(1) )",
    "[x](\x01javascript:alert(1))",
    "[x](\u00a0javascript:alert(1))",
    "[x](<javascript:alert(1)>)",
    '[x](javascript:alert(1) "title")',
    "[x](javascript://example.org/%0Aalert(1))",
    "[x](javascript:/**/alert(1))",
    r"[x](javascript\:alert(1))",
    "[x](java\x00script:alert(1))",
    "[x](jav\ud800ascript:alert(1))",
    "[x](ja\u200bvascript:alert(1))",
    "[x](\uff4a\uff41\uff56\uff41\uff53\uff43\uff52\uff49\uff50\uff54:alert(1))",
    "[x](javascript\u2028:alert(1))",
    "<javascript:alert(1)>",
    "<JAVASCRIPT:alert(1)>",
    "<javascript&#58;alert(1)>",
    "[x][1]\n\n[1]: javascript:alert(1)",
    "[x][1]\n\n[1]: <javascript:alert(1)>",
    '[x]\n\n[x]: JaVaScRiPt:alert(1) "t"',
    "[x][]\n\n[x]: &#106;avascript:alert(1)",
    "**[x](javascript:alert(1))**",
    "> [x](javascript:alert(1))",
    "* [x](javascript:alert(1))",
    "[[x](javascript:alert(1))](https://example.org)",
    "[x](mailto:javascript:alert(1))",
    # data:, vbscript: and other schemes.
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[x](DATA:text/html,<script>alert(1)</script>)",
    "[x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "[x](data:image/png;base64,iVBORw0KGgo=)",
    "<data:text/html,<script>alert(1)</script>>",
    "[x](vbscript:msgbox(1))",
    "[x](VBScript:msgbox(1))",
    "<vbscript:msgbox(1)>",
    "[x](file:///etc/passwd)",
    "[x](ftp://example.org/)",
    "[x](jar:https://example.org/x.jar!/)",
    # Links written as HTML.
    '<a href="javascript:alert(1)">x</a>',
    "<a href='javascript:alert(1)'>x</a>",
    "<a href=javascript:alert(1)>x</a>",
    '<a href="jav&#x09;ascript:alert(1)">x</a>',
    '<a href="https://example.org" target="_blank">x</a>',
    '<a href="https://example.org" style="color:red">x</a>',
    '<a xlink:href="javascript:alert(1)">x</a>',
    '<a href="javascript:alert(1)">[x](https://example.org)</a>',
    '<a href="javascript:alert(1)',
    # SVG and MathML.
    "<svg onload=alert(1)>",
    "<svg/onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    '<svg><a xlink:href="javascript:alert(1)"><text>x</text></a></svg>',
    "<svg><animate onbegin=alert(1) attributeName=x dur=1s>",
    "<svg><set attributeName=href to=javascript:alert(1)>",
    "<svg><foreignObject><iframe src=javascript:alert(1)>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<math href="javascript:alert(1)">x</math>',
    '<math><maction actiontype="statusline" xlink:href="javascript:alert(1)">x</maction></math>',
    # Styles.
    "<style>body{background:url(javascript:alert(1))}</style>",
    "<STYLE>@import 'https://evil.example/x.css';</STYLE>",
    '<p style="background:url(javascript:alert(1))">x</p>',
    '<div style="width: expression(alert(1))">x</div>',
    "<link rel=stylesheet href=https://evil.example/x.css>",
    # Embedding, forms and document-level tags.
    '<iframe src="javascript:alert(1)"></iframe>',
    '<iframe srcdoc="<script>alert(1)</script>">',
    '<object data="javascript:alert(1)">',
    '<embed src="javascript:alert(1)">',
    '<form action="javascript:alert(1)"><button>x</button></form>',
    "<button formaction=javascript:alert(1)>x</button>",
    "<input type=image src=x onerror=alert(1)>",
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<base href="javascript:alert(1)//">',
    "<isindex action=javascript:alert(1) type=image>",
    "<frameset onload=alert(1)>",
    "<applet code=x></applet>",
    # Images, in HTML and Markdown.
    "![x](javascript:alert(1))",
    "![x](https://example.org/a.png)",
    '![x](https://example.org/a.png "title")',
    '![x" onerror="alert(1)](https://example.org/a.png)',
    '![x](https://example.org/a.png" onerror="alert(1))',
    "![x][img]\n\n[img]: javascript:alert(1)",
    "![x](data:image/png;base64,iVBORw0KGgo=)",
    "[![x](https://example.org/a.png)](javascript:alert(1))",
    "[![x](https://example.org/a.png)](https://example.org)",
    "![<img src=x onerror=alert(1)>](https://example.org/a.png)",
    # Entity tricks.
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "&#60;script&#62;alert(1)&#60;/script&#62;",
    "&#x3C;img src=x onerror=alert(1)&#x3E;",
    "&amp;lt;script&amp;gt;alert(1)",
    r"\<script\>alert(1)\</script\>",
    "&#0;&#xD800;&#x110000;&#99999999;",
    # Comments, CDATA, parser-state and mutation-XSS classics.
    "<!-- <script>alert(1)</script> -->",
    "<!--><script>alert(1)</script>-->",
    "<!--[if IE]><script>alert(1)</script><![endif]-->",
    "<![CDATA[<script>alert(1)</script>]]>",
    '<?xml-stylesheet href="javascript:alert(1)"?>',
    "<!DOCTYPE html><script>alert(1)</script>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    "<noscript><style></noscript><img src=x onerror=alert(1)>",
    "<template><script>alert(1)</script></template>",
    "<textarea><script>alert(1)</script></textarea>",
    "<title><script>alert(1)</script></title>",
    "<xmp><script>alert(1)</script></xmp>",
    "<plaintext><script>alert(1)",
    "<listing><img src=x onerror=alert(1)></listing>",
    "<form><math><mtext></form><form><mglyph><style></math><img src onerror=alert(1)>",
    '<svg></p><style><a id="</style><img src=1 onerror=alert(1)>">',
    # Unclosed and broken tags.
    "<img src=x onerror=alert(1)",
    '[x](https://example.org/"onmouseover="alert(1)',
    "<p <script>alert(1)</script>",
    "<<img src=x onerror=alert(1)>>",
    # NUL bytes and lone surrogates inside tags.
    "<scr\x00ipt>alert(1)</scr\x00ipt>",
    "<img src=x on\x00error=alert(1)>",
    "\x00<script>\x00alert(1)</script>",
    "<scr\udfffipt>alert(1)</script>",
    # Backticks and fenced-code info strings.
    "<img src=`x` onerror=`alert(1)`>",
    "[x](`javascript:alert(1)`)",
    '`<a href="javascript:alert(1)">`',
    '```"><script>alert(1)</script>\ncode\n```',
    "```python onload=alert(1)\nx\n```",
    '```language-x"><img src=x onerror=alert(1)>\nx\n```',
    "~~~javascript:alert(1)\nx\n~~~",
    # Protocol-relative and odd relative links (allowed, but must stay inert).
    "[x](//evil.example)",
    r"[x](\\evil.example)",
    r"[x](/\evil.example)",
    "[x](https:evil.example)",
    "[x](https://example.org/?q=<script>alert(1)</script>)",
    '[x](https://example.org "t\\" onmouseover=\\"alert(1)")',
    '[x](https://example.org/ "<script>alert(1)</script>")',
    "[x](https://example.org/<script>)",
    'https://example.org/"onmouseover="alert(1)"',
    "https://example.org/'><script>alert(1)</script>",
    "javascript://example.org/%0Aalert(1)",
    "<mailto:x@example.org?body=<script>>",
    # Nested Markdown and HTML.
    "[<img src=x onerror=alert(1)>](https://example.org)",
    "[x](https://example.org)<script>alert(1)</script>",
    "> - 1. **_~~`<script>`~~_**",
    "*<b>*</b>",
    "[a](<https://example.org/>) <a href=x>[b](javascript:alert(1))</a>",
    "1. <ol start=\"1 onclick=alert(1)\">",
    "99999999999. huge start",
    # Huge and deeply nested inputs.
    ">" * 5000 + " <script>alert(1)</script>",
    "- " * 5000 + "[x](javascript:alert(1))",
    "[" * 2000 + "x" + "](javascript:alert(1))" * 2000,
    "*" * 10000,
    "<" * 10000,
    "`" * 10000,
    "a" * 100000 + "<script>alert(1)</script>",
    # Policy evasions (issue 10): links the old count missed, text the blocklist missed,
    # bodies that show nothing, and the body that made the old link regex quadratic.
    "http:/" * 1666,
    "p.com q.com r.com s.com t.com",
    "[a](//p.com) [b](//q.com)",
    "http&#58;//p.com http&#58;//x.y",
    "[a][1] [b][1]\n\n[1]: p.com",
    "id&#105;ot &#x69;diot id**io**t id&ZeroWidthSpace;iot id&shy;iot",
    "id\u034f\u180b\ufe0f\U000e0020iot \u0456di\u043et \u03b9diot i\u0307diot",
    "\u200b\u200b \U000e0041\U000e0042 \u3164",
    "[](http://x.example)",
    "[](javascript:alert(1))",
]


@pytest.mark.parametrize(
    "source", HOSTILE, ids=[f"{i:03d}:{ascii(s)[1:41]}" for i, s in enumerate(HOSTILE)]
)
def test_hostile_input_renders_only_allowlisted_markup(source):
    assert_safe(render_markdown(source))


@pytest.mark.parametrize(
    "source", HOSTILE, ids=[f"{i:03d}:{ascii(s)[1:41]}" for i, s in enumerate(HOSTILE)]
)
def test_render_body_reports_the_html_it_renders(source):
    rendered = render_body(source)
    assert rendered.html == render_markdown(source)
    collector = _Collector()
    collector.feed(rendered.html)
    collector.close()
    assert rendered.link_count == sum(tag == "a" for tag, _ in collector.elements)


def test_corpus_is_large():
    assert len(set(HOSTILE)) >= 110


@pytest.mark.parametrize(
    "html",
    [
        "<script>alert(1)</script>",
        "<img src=x>",
        '<p onclick="alert(1)">x</p>',
        '<p style="color:red">x</p>',
        '<code class="x">x</code>',
        '<ol start="1x"></ol>',
        "<!-- x -->",
        '<a href="https://example.org/">x</a>',
        '<a href="https://example.org/" rel="nofollow">x</a>',
        f'<a rel="{REL}">x</a>',
        f'<a href="https://example.org/" rel="{REL}" target="_blank">x</a>',
        f'<a href="javascript:alert(1)" rel="{REL}">x</a>',
        f'<a href=" JavaScript:alert(1)" rel="{REL}">x</a>',
        f'<a href="jav&#x09;ascript:alert(1)" rel="{REL}">x</a>',
        f'<a href="data:text/html,x" rel="{REL}">x</a>',
        f'<a href="vbscript:x" rel="{REL}">x</a>',
    ],
)
def test_the_checker_rejects_unsafe_html(html):
    with pytest.raises(AssertionError):
        assert_safe(html)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("*em* _em_", "<p><em>em</em> <em>em</em></p>"),
        ("**strong**", "<p><strong>strong</strong></p>"),
        ("`a < b`", "<p><code>a &lt; b</code></p>"),
        ("> quoted", "<blockquote>\n<p>quoted</p>\n</blockquote>"),
        ("- a\n- b", "<ul>\n<li>a</li>\n<li>b</li>\n</ul>"),
        ("3. three\n4. four", '<ol start="3">\n<li>three</li>\n<li>four</li>\n</ol>'),
        ("a\n\n---\n\nb", "<p>a</p>\n<hr>\n<p>b</p>"),
        ("line one\nline two", "<p>line one<br>\nline two</p>"),
        ("<b>hi</b>", "<p>&lt;b&gt;hi&lt;/b&gt;</p>"),
        ("", ""),
    ],
)
def test_markdown_features(source, expected):
    assert render_markdown(source) == expected


def test_strikethrough():
    assert re.fullmatch(r"<p><(s|del)>gone</\1></p>", render_markdown("~~gone~~"))


def test_fenced_code_keeps_its_language():
    html = render_markdown("```python\nprint('<hi>')\n```")
    assert html == (
        '<pre><code class="language-python">print(\'&lt;hi&gt;\')\n</code></pre>'
    )


def test_fenced_code_with_a_hostile_language_loses_the_class():
    assert render_markdown('```py"onclick\nx\n```') == "<pre><code>x\n</code></pre>"


@pytest.mark.parametrize(
    ("source", "href"),
    [
        ("[x](https://example.org/a?b=1&c=2)", "https://example.org/a?b=1&amp;c=2"),
        ("[x](http://example.org/)", "http://example.org/"),
        ("[x](mailto:ana@example.org)", "mailto:ana@example.org"),
        ("<ana@example.org>", "mailto:ana@example.org"),
        ("[x](/comments/1)", "/comments/1"),
        ("[x](#c-17)", "#c-17"),
        # Protocol-relative links are ordinary web links to another host.
        ("[x](//example.org/y)", "//example.org/y"),
    ],
)
def test_allowed_links_keep_href_and_get_rel(source, href):
    html = render_markdown(source)
    assert f'href="{href}"' in html
    assert f'rel="{REL}"' in html
    assert_safe(html)


def test_link_title_is_kept():
    html = render_markdown('[x](https://example.org "A title")')
    assert html == f'<p><a href="https://example.org" title="A title" rel="{REL}">x</a></p>'


def test_bare_url_is_linkified_with_rel():
    html = render_markdown("see https://example.org/x now")
    assert html == (
        f'<p>see <a href="https://example.org/x" rel="{REL}">https://example.org/x</a> now</p>'
    )


def test_urls_in_code_are_not_linkified():
    html = render_markdown("`https://example.org/x`\n\n    https://example.org/y")
    assert "<a" not in html


def test_disallowed_scheme_drops_the_anchor_but_keeps_its_text():
    assert render_markdown("[the text](ftp://example.org/)") == "<p>the text</p>"


def test_javascript_link_is_shown_as_text():
    assert render_markdown("[x](javascript:alert(1))") == "<p>[x](javascript:alert(1))</p>"


def test_image_becomes_a_link_to_its_target():
    html = render_markdown("![a cat](https://example.org/cat.png)")
    assert html == f'<p><a href="https://example.org/cat.png" rel="{REL}">a cat</a></p>'


def test_image_inside_a_link_becomes_its_alt_text():
    html = render_markdown("[![a cat](https://example.org/cat.png)](https://example.org/)")
    assert html == f'<p><a href="https://example.org/" rel="{REL}">a cat</a></p>'


def test_nul_and_lone_surrogates_are_dropped():
    assert render_markdown("a\x00b\ud800c\udfff") == "<p>abc</p>"


def test_output_has_no_surrounding_whitespace():
    html = render_markdown("\n\nhello\n\n")
    assert html == html.strip() == "<p>hello</p>"


@pytest.mark.parametrize(
    "source",
    [
        ">" * 5000,
        "> " * 5000 + "x",
        "- " * 5000 + "x",
        "\n".join("  " * depth + "- item" for depth in range(1000)),
        "1. " * 5000 + "x",
        "*" * 5000 + "x" + "*" * 5000,
        "[" * 5000 + "x" + "]" * 5000,
        "x" * 200_000,
        "https://example.org/ " * 10_000,
        "<b>" * 20_000,
    ],
    ids=["quotes", "spaced-quotes", "bullets", "indented-list", "ordered",
         "emphasis", "brackets", "long-line", "many-urls", "many-tags"],
)
def test_huge_and_deeply_nested_input_returns(source):
    assert_safe(render_markdown(source))


@pytest.mark.parametrize(
    ("source", "text", "link_count"),
    [
        ("id&#105;ot &#x69;diot", "idiot idiot", 0),
        ("id**io**t id*io*t id~~io~~t id`io`t", "idiot idiot idiot idiot", 0),
        ("id&ZeroWidthSpace;iot", "id\u200biot", 0),  # ignorables are the matcher's job
        ("a &amp; b &lt;c&gt;", "a & b <c>", 0),
        ("one\n\ntwo", "one\ntwo", 0),
        ("- one\n- two", "one\ntwo", 0),
        ("> one\n\n> two", "one\ntwo", 0),
        ("one\ntwo", "one\ntwo", 0),
        ("one\n\n---\n\ntwo", "one\ntwo", 0),
        ("```\n<b>x</b>\n```", "<b>x</b>", 0),
        ("buy **pills**", "buy pills", 0),
        ("p.com q.com", "p.com q.com", 2),
        ("[a](//p.com) [b](/x) [c](#y) <ana@example.org>", "a b c ana@example.org", 4),
        ("http&#58;//p.com", "http://p.com", 1),
        ("[a][1] [b][1]\n\n[1]: https://example.org", "a b", 2),
        ("![cat](https://example.org/c.png)", "cat", 1),
        ("[x](javascript:alert(1))", "[x](javascript:alert(1))", 0),
        ("`https://example.org/x`", "https://example.org/x", 0),
        ("---", "", 0),
        ("[](http://x.example)", "", 1),
    ],
)
def test_render_body_text_and_links(source, text, link_count):
    rendered = render_body(source)
    assert "\n".join(line for line in rendered.text.split("\n") if line) == text
    assert rendered.link_count == link_count


@pytest.mark.parametrize(
    ("source", "prose", "shown_urls", "plain_urls"),
    [
        ("see https://example.org/x now", "see now", ("https://example.org/x",), ()),
        ("see p.com now", "see now", ("p.com",), ()),
        ("mail <ana@example.org>", "mail", ("ana@example.org",), ()),
        ("mail <a&b@example.org>", "mail", ("a&b@example.org",), ()),  # the href's &amp; decoded
        ("[a good read](https://example.org)", "a good read", (), ()),
        ("[https://good.example](https://evil.example)", "", ("https://good.example",), ()),
        ("on https://a.example and www.b.example", "on and", (), ("https://a.example", "www.b.example")),
        ("code `x = 1` and\n\n```\ny\n```\nend", "code and end", (), ()),
    ],
)
def test_render_body_sorts_prose_from_urls_and_code(source, prose, shown_urls, plain_urls):
    rendered = render_body(source)
    assert (rendered.prose, rendered.shown_urls, rendered.plain_urls) == (prose, shown_urls, plain_urls)


def test_concurrent_renders_agree():
    sources = [f"*{n}* https://example.org/{n} <b>{n}</b>" for n in range(50)]
    expected = [render_markdown(source) for source in sources]
    results: dict[int, list[str]] = {}

    def work(key):
        results[key] = [render_markdown(source) for source in sources]

    threads = [threading.Thread(target=work, args=(key,)) for key in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {key: expected for key in range(8)}


FRAGMENTS = st.sampled_from([
    "<", ">", "</", "/>", "[", "]", "](", ")", "![", "<a href=", "<img src=x ",
    "javascript:", "JaVaScRiPt:", "&#106;", "&#x3A;", "data:text/html,", "vbscript:",
    "on", "onerror", "=", '"', "'", "`", "```", "*", "_", "~~", "> ", "- ", "1. ",
    "\n", "\n\n", " ", "\t", "\x00", "\ud800", "&", ";", "http://", "https://",
    "example.org", "mailto:", "//", "\\", "<script>", "<svg", "<!--", "-->", "[1]: ",
])
# st.text() never yields surrogates; the second alphabet leans on the awkward ones.
TEXT = st.text() | st.text(st.characters(categories=["L", "P", "S", "Zs", "Cc", "Cf", "Cs"]))
MARKUP_SOUP = st.lists(FRAGMENTS | st.text(max_size=4), max_size=40).map("".join)


@settings(max_examples=200, deadline=None, database=None)
@given(TEXT)
def test_arbitrary_text_is_safe(source):
    assert_safe(render_markdown(source))


@settings(max_examples=200, deadline=None, database=None)
@given(MARKUP_SOUP)
def test_markup_soup_is_safe(source):
    assert_safe(render_markdown(source))


@settings(max_examples=200, deadline=None, database=None)
@given(MARKUP_SOUP | TEXT)
def test_render_body_agrees_with_render_markdown(source):
    rendered = render_body(source)
    assert rendered.html == render_markdown(source)
    assert rendered.link_count == rendered.html.count("<a ")


def read_with_html_parser(html: str) -> tuple:
    """What render_body reports, read from the HTML it returns by html.parser, as a browser reads it."""
    extractor = sanitize._TextExtractor()
    extractor.feed(html)
    extractor.close()
    reading = extractor.reading
    words = "".join(reading.prose).split()
    return (
        "".join(reading.text).strip(), reading.link_count,
        " ".join(word for word in words if "://" not in word and "www." not in word.casefold()),
        tuple(reading.shown_urls),
        tuple(word for word in words if "://" in word or "www." in word.casefold()),
    )


# Entities, ampersands and URLs in links and text: where reading the tokens and reading
# the written HTML could part ways.
LINK_SOUP = st.lists(FRAGMENTS | st.sampled_from([
    "&amp;", "&lt;", "&gt;", "&quot;", "&#38;", "&#x26;", "&nbsp;", "&copy", "&unknown;", "?a=1&b=2", "&b",
    "[t](https://x.example/?a=1&b=2)", "https://y.example/?q=a&amp;r=b", "<https://z.example/&amp;>",
    "[https://s.example](https://s.example)", "www.w.example", "a.b", "<a@b.example>", "<a&b@c.example>", "`", "    code\n",
]) | st.text(max_size=3), max_size=30).map("".join)


@settings(max_examples=400, deadline=None, database=None)
@given(LINK_SOUP | MARKUP_SOUP | TEXT)
def test_render_body_reads_what_html_parser_reads_in_its_html(source):
    rendered = render_body(source)
    assert (
        rendered.text, rendered.link_count, rendered.prose, rendered.shown_urls, rendered.plain_urls,
    ) == read_with_html_parser(rendered.html)


# --- markdown-it's tokens handed to bleach as parsed HTML --------------------------------

def markdown_html(source: str) -> str:
    return sanitize._markdown.render(sanitize.strip_unsafe_codepoints(source))


def bleach_clean_of_markdown_html(source: str) -> str:
    """The reference: markdown-it writes HTML, bleach's cleaner parses and cleans it."""
    return sanitize._cleaner().clean(markdown_html(source)).strip()


def walker_tokens_of_markdown_html(source: str) -> list[dict]:
    """The html5lib tokens bleach's parser and tree walker make of markdown-it's HTML."""
    cleaner = sanitize._cleaner()
    written = markdown_html(source)
    tokens = cleaner.walker(cleaner.parser.parseFragment(written)) if written else []
    return [{key: dict(value) if key == "data" and not isinstance(value, str) else value
             for key, value in token.items()} for token in tokens]


def parsed_stream(source: str) -> list[dict] | None:
    tokens = sanitize._markdown.parse(sanitize.strip_unsafe_codepoints(source))
    return sanitize._ParsedStream(sanitize._cleaner().tags, sanitize._markdown).tokens(tokens)


MARKDOWN_FEATURES = [
    "# Heading *one*\n\nText", "x\n## h2\ny", "Setext\n===\n\nand\n---", "- a\n- b\n\n- loose",
    "- a\n  > quoted\n- b", "1. one\n2. two", "7) seven", "* \n* empty item", "> a\n> > b\n\nc",
    "```py\ncode <x> & \"y\"\n```", "~~~ a&amp;b more\nx\n~~~", "```\n```", "    indented\n\n    code",
    "`inline <code>`", "a  \nhard\\\nbreaks\nsoft", "***strong em*** ~~gone~~ __u__", "---\n***",
    "[t](https://x.example/?a=1&b=2 \"A & 'title'\")", "[ref]\n\n[ref]: http://r.example 'T'",
    "![alt *text*](https://i.example/p.png \"T\")", "[![inner](https://i.example)](https://o.example)",
    "<https://auto.example/&amp;> <mail@example.org>", "www.bare.example and https://bare.example/x",
    "&amp;lt; &copy; &#35; &nbsp; \" ' < > &", "<b>raw</b> <!-- c --> <p>x</p>", "\t\x0c\r\nx\r",
    "\u2028line\u00a0space", "- [ ] task\n- [x] done", "| a | b |\n|---|---|\n| 1 | 2 |",
]


@pytest.mark.parametrize("source", HOSTILE + MARKDOWN_FEATURES)
def test_markdown_is_cleaned_exactly_as_bleach_cleans_its_html(source):
    assert render_markdown(source) == bleach_clean_of_markdown_html(source)
    assert render_body(source).html == bleach_clean_of_markdown_html(source)


@pytest.mark.parametrize("source", MARKDOWN_FEATURES)
def test_the_stream_is_what_bleachs_parser_makes_of_the_html(source):
    assert parsed_stream(source) == walker_tokens_of_markdown_html(source)


def test_a_link_inside_a_link_is_parsed_as_html_and_every_anchor_gets_rel():
    source = "[see <https://inner.example> here](https://outer.example)"
    assert parsed_stream(source) is None  # html5lib takes nested anchors apart: the parsing way
    html = render_markdown(source)
    assert html == bleach_clean_of_markdown_html(source)
    assert html.count("<a ") == 2 and html.count(f'rel="{REL}"') == 2
    assert_safe(html)


def test_a_token_the_stream_does_not_know_takes_the_parsing_way():
    from markdown_it.token import Token

    stream = sanitize._ParsedStream(sanitize._cleaner().tags, sanitize._markdown)
    assert stream.tokens([Token("html_block", "", 0, content="<b>x</b>")]) is None


MARKDOWN_SOUP = st.lists(st.sampled_from([
    "# ", "###### ", "\n===\n", "\n---\n", "***", "- ", "* ", "1. ", "3) ", "    ", "> ", "```", "~~~ x&amp;y\n",
    "`", "**", "__", "~~", "[a]", "[a]: http://a.example \"t\"\n", "![", "](", ")", "<https://n.example>",
    "<a@b.example>", "\\", "&amp;", "&#35;", "&copy;", "  \n", "\n", "\n\n", " ", "word", "www.w.example",
    "http://h.example/p?q=1&r=2", '"', "'", "<b>", "\r", "\x0c", "\u2028", "- [ ] ",
]) | FRAGMENTS | st.text(max_size=3), max_size=50).map("".join)


@settings(max_examples=300, deadline=None, database=None)
@given(MARKDOWN_SOUP | LINK_SOUP | MARKUP_SOUP | TEXT)
def test_markdown_cleaned_from_its_tokens_equals_bleachs_clean_of_its_html(source):
    stream = parsed_stream(source)
    assert stream is None or stream == walker_tokens_of_markdown_html(source)
    assert render_markdown(source) == bleach_clean_of_markdown_html(source)
