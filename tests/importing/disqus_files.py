"""Disqus exports written for the tests, after Disqus's public description of the format."""
from __future__ import annotations

HEADER = (
    '<?xml version="1.0" encoding="utf-8"?>\n'
    '<disqus xmlns="http://disqus.com" xmlns:dsq="http://disqus.com/disqus-internals"'
    ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n'
)
FOOTER = "</disqus>\n"


def thread(dsq_id: str, link: str, *, identifier: str = "", title: str = "A title", closed: bool = False,
           deleted: bool = False, created: str = "2014-01-01T10:00:00Z") -> str:
    return (
        f'<thread dsq:id="{dsq_id}"><id>{identifier}</id><forum>news</forum>'
        f'<category dsq:id="1"/><link>{link}</link><title>{title}</title><message/>'
        f'<createdAt>{created}</createdAt>'
        '<author><name>Editor</name><isAnonymous>false</isAnonymous><username>ed</username></author>'
        f'<ipAddress>198.51.100.1</ipAddress><isClosed>{str(closed).lower()}</isClosed>'
        f'<isDeleted>{str(deleted).lower()}</isDeleted></thread>\n'
    )


def post(dsq_id: str, thread_id: str, message: str, *, parent: str | None = None, name: str | None = "Ana",
         email: str | None = "ana@example.org", created: str = "2014-01-02T10:00:00Z", deleted: bool = False,
         spam: bool = False, ip: str = "203.0.113.99") -> str:
    author = "<author>"
    if email is not None:
        author += f"<email>{email}</email>"
    if name is not None:
        author += f"<name>{name}</name>"
    author += "<isAnonymous>false</isAnonymous></author>"
    return (
        f'<post dsq:id="{dsq_id}"><id/><message>{message}</message><createdAt>{created}</createdAt>'
        f'<isDeleted>{str(deleted).lower()}</isDeleted><isSpam>{str(spam).lower()}</isSpam>'
        f'{author}<ipAddress>{ip}</ipAddress><thread dsq:id="{thread_id}"/>'
        + (f'<parent dsq:id="{parent}"/>' if parent else "")
        + "</post>\n"
    )


def export(*parts: str) -> str:
    return HEADER + "".join(parts) + FOOTER
