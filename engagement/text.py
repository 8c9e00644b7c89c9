"""Plain-text helpers for names and other fields that are never HTML.

Plain text is escaped by whoever displays it, so nothing here removes or
escapes markup: ``<b>Ana</b>`` stays ``<b>Ana</b>``. What is removed are the
characters that corrupt storage or let one field disguise itself or reorder
the text around it on screen.
"""

import re
import unicodedata

# NUL is rejected by PostgreSQL; a lone surrogate cannot be encoded as UTF-8.
_UNSAFE = re.compile("[\x00\ud800-\udfff]")
# Control characters that stand for white space; other controls are dropped.
_SPACE_CONTROLS = frozenset("\t\n\r")


def strip_unsafe_codepoints(value: str) -> str:
    """Return ``value`` without NUL bytes and lone surrogates, nothing else changed.

    For Markdown bodies and other free text before storage.
    """
    return _UNSAFE.sub("", value)


def _plain_char(char: str) -> str:
    category = unicodedata.category(char)
    if category in ("Zl", "Zp") or char in _SPACE_CONTROLS:
        return " "
    # Cc: controls; Cf: zero-width characters, BOM, soft hyphen, bidi marks,
    # embeddings, overrides and isolates; Cs: lone surrogates.
    if category in ("Cc", "Cf", "Cs"):
        return ""
    return char


def clean_plain_text(value: str) -> str:
    """Return ``value`` as one tidy line of plain text.

    Drops control, format (zero-width, bidi) and surrogate code points, turns
    tabs, newlines and line/paragraph separators into spaces, collapses white
    space runs to one space, strips the ends and NFC-normalises. The result
    is idempotent under this function. Markup is kept as text.
    """
    kept = "".join(_plain_char(char) for char in value)
    # Normalise after removal: dropping e.g. a ZWJ between a letter and a
    # combining mark leaves a sequence that NFC composes.
    return unicodedata.normalize("NFC", " ".join(kept.split()))
