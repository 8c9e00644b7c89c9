"""WordPress eXtended RSS (WXR) exports: <item> elements (posts, pages) with <wp:comment>s.

An item has <title>, <link>, <wp:post_id>, <wp:post_date_gmt>, <wp:status> and
<wp:comment_status>; a comment has <wp:comment_id>, <wp:comment_parent> (0: none),
<wp:comment_approved> (1, 0, spam or trash), <wp:comment_author>, <wp:comment_author_email>,
<wp:comment_author_url>, <wp:comment_date_gmt> and <wp:comment_content> (HTML, with
WordPress's line breaks). The ``wp`` namespace carries the WXR version (1.0 to 1.2): any
is read. <wp:comment_author_IP> is never read.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import BinaryIO
from xml.etree.ElementTree import Element

from engagement.importing.records import (
    ImportedComment,
    ImportedThread,
    ImportFailed,
    ImportRecord,
    Skipped,
    clean_author,
    parse_time,
)
from engagement.importing.xml import local_name, stream_elements
from engagement.models import BodyFormat, CommentStatus

SOURCE = "wordpress"
WXR_NAMESPACE = "http://wordpress.org/export/"
_STATUSES = {"1": CommentStatus.APPROVED, "0": CommentStatus.PENDING, "spam": CommentStatus.SPAM}
_NO_DATE = "0000-00-00 00:00:00"
# HTML that already has its own blocks is left as written; WordPress adds paragraphs to
# the rest only when it displays it.
_BLOCK_TAG = re.compile(r"<(?:p|div|ul|ol|blockquote|pre|h[1-6]|table)\b", re.IGNORECASE)


def read_wordpress(file: BinaryIO, name: str) -> Iterator[ImportRecord]:
    """Threads and comments of a WXR file, streamed. Raises ImportFailed."""
    for element in stream_elements(file, name, root="rss", depth=2, what="a WordPress export (WXR)"):
        if element.tag != "item":
            continue
        fields = _wp_fields(element)
        ref = fields.get("post_id") or ""
        where = f"{name}: <item> with wp:post_id {ref!r}"
        yield ImportedThread(
            ref=ref,
            url=_text(element.find("link")),
            identifier=ref,
            title=_text(element.find("title")),
            created_at=_time(fields.get("post_date_gmt"), f"{where}: <wp:post_date_gmt>"),
            closed=fields.get("comment_status") == "closed",
            deleted=fields.get("status") == "trash",
        )
        for child in element:
            if _is_wp(child, "comment"):
                yield _comment(child, ref, where)


def _comment(element: Element, thread_ref: str, where: str) -> ImportRecord:
    fields = _wp_fields(element)
    source_id = fields.get("comment_id") or ""
    where = f"{where}: <wp:comment> {source_id!r}"
    if fields.get("comment_type") in ("pingback", "trackback"):
        return Skipped("pingbacks and trackbacks")
    parent = fields.get("comment_parent") or "0"
    created = _time(fields.get("comment_date_gmt"), f"{where}: <wp:comment_date_gmt>") or parse_time(
        fields.get("comment_date"), f"{where}: <wp:comment_date>"  # local time, for want of GMT
    )
    return ImportedComment(
        source=SOURCE,
        source_id=_required(source_id, f"{where}: no <wp:comment_id>"),
        thread_ref=thread_ref,
        parent=None if parent == "0" else (SOURCE, parent),
        created_at=created,
        body=with_paragraphs(fields.get("comment_content") or ""),
        body_format=BodyFormat.HTML,
        status=_STATUSES.get(fields.get("comment_approved") or "1", CommentStatus.DELETED),
        author=clean_author(
            fields.get("comment_author"), fields.get("comment_author_email"), fields.get("comment_author_url")
        ),
    )


def with_paragraphs(content: str) -> str:
    """WordPress comment text as the HTML it displays: blank lines part paragraphs, a line
    break is <br>. Content with block elements of its own is left alone. Linear."""
    if not content.strip() or _BLOCK_TAG.search(content):
        return content
    paragraphs: list[list[str]] = [[]]
    for line in content.splitlines():
        if line.strip():
            paragraphs[-1].append(line.strip())
        elif paragraphs[-1]:
            paragraphs.append([])
    return "".join(f"<p>{'<br>'.join(lines)}</p>" for lines in paragraphs if lines)


def _is_wp(element: Element, name: str) -> bool:
    return element.tag.startswith("{" + WXR_NAMESPACE) and local_name(element.tag) == name


def _wp_fields(element: Element) -> dict[str, str]:
    """The text of each direct ``wp:`` child by local name, stripped (the content as written)."""
    fields = {}
    for child in element:
        if child.tag.startswith("{" + WXR_NAMESPACE) and len(child) == 0:
            name = local_name(child.tag)
            fields[name] = (child.text or "") if name == "comment_content" else (child.text or "").strip()
    return fields


def _text(element: Element | None) -> str | None:
    if element is None or element.text is None:
        return None
    return element.text.strip() or None


def _time(text: str | None, where: str) -> datetime | None:
    if not text or not text.strip() or text.strip() == _NO_DATE:
        return None
    return parse_time(text, where)


def _required(value: str, message: str) -> str:
    if not value.strip():
        raise ImportFailed(message)
    return value.strip()
