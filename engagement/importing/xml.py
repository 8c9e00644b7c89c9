"""Streaming XML with the dangerous parts refused: no DTD, so no entity bombs and no
external entities or DTD fetches (defusedxml over the standard library's expat)."""
from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from engagement.importing.records import ImportFailed


def local_name(tag: str) -> str:
    """``{namespace}name`` -> ``name``."""
    return tag.rpartition("}")[2]


def stream_elements(file: BinaryIO, name: str, *, root: str, depth: int, what: str) -> Iterator[Element]:
    """Each element at ``depth`` below the root, complete, in document order.

    An element is removed from the tree once the caller has it, so memory holds one at a
    time. Raises ImportFailed when the root is not ``root`` (``what`` names the expected
    kind of file), when the file declares a DTD, and on malformed or truncated XML
    (naming the line and column).
    """
    ancestors: list[Element] = []
    try:
        for event, element in iterparse(file, events=("start", "end"), forbid_dtd=True):
            if event == "start":
                if not ancestors and element.tag != root:
                    raise ImportFailed(f"{name}: not {what}: the root element is <{local_name(element.tag)}>")
                ancestors.append(element)
                continue
            ancestors.pop()
            if len(ancestors) == depth:
                yield element
                ancestors[-1].remove(element)
    except ParseError as exc:
        line, column = exc.position
        raise ImportFailed(f"{name}: malformed or truncated XML at line {line}, column {column}: {exc}") from exc
    except DefusedXmlException as exc:
        raise ImportFailed(
            f"{name}: refused: the file declares a DTD or entities ({exc}); exports have none, "
            "and they are how entity bombs and external entities get in"
        ) from exc


def text_of(element: Element, *tags: str) -> str | None:
    """The text of the element at ``tags`` below ``element`` (each a child of the one
    before, in ``{namespace}name`` form), stripped; None when absent or empty.

    Plain tags rather than a prefixed path: with a namespace map, ElementTree parses the
    path on every call, which cost more than the rest of reading a comment.
    """
    found: Element | None = element
    for tag in tags:
        found = found.find(tag)
        if found is None:
            return None
    if found.text is None:
        return None
    return found.text.strip() or None


def flag_of(element: Element, *tags: str) -> bool:
    return (text_of(element, *tags) or "").lower() == "true"
