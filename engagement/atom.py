"""Atom 1.0 documents (RFC 4287) of comments, written with the standard library's XML escaping.

Text goes into elements and attributes through ElementTree, which escapes it; characters
XML 1.0 cannot carry at all (most control characters) are dropped first.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from engagement.clock import iso_timestamp
from engagement.services.feeds import FeedEntry

ATOM_NAMESPACE = "http://www.w3.org/2005/Atom"
# Everything XML 1.0 forbids, one character class: linear.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
EPOCH = "1970-01-01T00:00:00Z"


def _text(value: str) -> str:
    return _NOT_XML.sub("", value)


def _add(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, tag, {name: _text(value) for name, value in attributes.items()})
    if text is not None:
        element.text = _text(text)
    return element


def permalink(entry: FeedEntry) -> str | None:
    """The comment on the article's page (the widget opens ``#comment-<id>``), when the article's url is known."""
    return f"{entry.article_url}#comment-{entry.id}" if entry.article_url else None


def comments_feed(
    *, feed_id: str, title: str, self_url: str, site_url: str | None, entries: Sequence[FeedEntry],
    anonymous_name: str, entry_id_prefix: str,
) -> bytes:
    """The Atom document of ``entries`` (newest first)."""
    feed = ET.Element("feed", {"xmlns": ATOM_NAMESPACE})
    _add(feed, "id", feed_id)
    _add(feed, "title", title)
    updated = max((entry.updated for entry in entries), default=None)
    _add(feed, "updated", iso_timestamp(updated) if updated else EPOCH)
    _add(feed, "link", rel="self", type="application/atom+xml", href=self_url)
    if site_url:
        _add(feed, "link", rel="alternate", type="text/html", href=site_url)
    _add(feed, "generator", "engagement")
    for entry in entries:
        _add_entry(feed, entry, anonymous_name, entry_id_prefix)
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def _add_entry(feed: ET.Element, entry: FeedEntry, anonymous_name: str, id_prefix: str) -> None:
    element = _add(feed, "entry")
    name = entry.author_name or anonymous_name
    _add(element, "id", f"{id_prefix}{entry.id}")
    subject = entry.article_title or entry.article_key
    _add(element, "title", f"{name} replied on {subject}" if entry.parent_id else f"{name} on {subject}")
    _add(element, "published", iso_timestamp(entry.created_at))
    _add(element, "updated", iso_timestamp(entry.updated))
    author = _add(element, "author")
    _add(author, "name", name)
    if entry.author_url:
        _add(author, "uri", entry.author_url)
    link = permalink(entry)
    if link:
        _add(element, "link", rel="alternate", type="text/html", href=link)
    _add(element, "content", entry.body_html, type="html")
