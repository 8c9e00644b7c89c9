"""Plain-text helpers: names and other fields that are never HTML, and the form text is matched in.

Plain text is escaped by whoever displays it, so nothing here removes or
escapes markup: ``<b>Ana</b>`` stays ``<b>Ana</b>``. What is removed are the
characters that corrupt storage or let one field disguise itself or reorder
the text around it on screen. ``matching_form`` maps text to what it looks
like, so that a blocked word matches however it was disguised.
"""

import re
import unicodedata
from functools import cache

from confusable_homoglyphs.utils import load as load_confusables

# NUL is rejected by PostgreSQL; a lone surrogate cannot be encoded as UTF-8.
_UNSAFE = re.compile("[\x00\ud800-\udfff]")
# Control characters that stand for white space; other controls are dropped.
_SPACE_CONTROLS = frozenset("\t\n\r")
# Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt): never shown, so
# they can split a word or make a body look non-empty while nothing is on screen.
_IGNORABLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)
# Combining marks (nonspacing and enclosing) are dropped after NFD, so accents and marks
# stacked on a letter do not hide it. Spacing marks (Mc) stay: they are visible vowels.
_MARK_CATEGORIES = frozenset({"Mn", "Me"})


def strip_unsafe_codepoints(value: str) -> str:
    """Return ``value`` without NUL bytes and lone surrogates, nothing else changed.

    For Markdown bodies and other free text before storage.
    """
    return _UNSAFE.sub("", value)


def strip_ignorables(value: str) -> str:
    """Return ``value`` without Default_Ignorable_Code_Point characters (linear)."""
    return _IGNORABLE.sub("", value)


def _plain_char(char: str) -> str:
    category = unicodedata.category(char)
    if category in ("Zl", "Zp") or char in _SPACE_CONTROLS:
        return " "
    # Cc: controls; Cf: zero-width characters, BOM, soft hyphen, bidi marks,
    # embeddings, overrides and isolates; Cs: lone surrogates; and the other
    # default-ignorables (Hangul fillers, variation selectors, CGJ...).
    if category in ("Cc", "Cf", "Cs") or _IGNORABLE.match(char):
        return ""
    return char


def clean_plain_text(value: str) -> str:
    """Return ``value`` as one tidy line of plain text.

    Drops control, format (zero-width, bidi), surrogate and default-ignorable code points, turns
    tabs, newlines and line/paragraph separators into spaces, collapses white
    space runs to one space, strips the ends and NFC-normalises. The result
    is idempotent under this function. Markup is kept as text.
    """
    kept = "".join(_plain_char(char) for char in value)
    # Normalise after removal: dropping e.g. a ZWJ between a letter and a
    # combining mark leaves a sequence that NFC composes.
    return unicodedata.normalize("NFC", " ".join(kept.split()))


def _without_marks(value: str) -> str:
    return "".join(
        char for char in unicodedata.normalize("NFD", value) if unicodedata.category(char) not in _MARK_CATEGORIES
    )


@cache
def _prototypes() -> dict[int, str]:
    """Character -> its UTS #39 prototype, built once per worker from confusable-homoglyphs' data.

    That package ships Unicode's confusables.txt as a symmetric table (each character
    lists what it can be confused with) and no skeleton function, so the direction is
    recovered here: in confusables.txt every source maps to exactly one prototype and
    prototypes are never sources, so a character listing several homoglyphs (or whose
    one homoglyph lists several) is a prototype. A pair listing only each other cannot
    be told apart and maps to the smaller; any fixed choice gives equal skeletons.
    Display marks (LRM/RLM around right-to-left characters) are not part of the data.
    """
    data: dict[str, set[str]] = {}
    for key, entries in load_confusables("confusables.json").items():
        homoglyphs = data.setdefault(strip_ignorables(key), set())
        homoglyphs.update(strip_ignorables(entry["c"]) for entry in entries)
    table: dict[str, str] = {}
    for char, homoglyphs in data.items():
        if len(char) != 1 or len(homoglyphs) != 1:
            continue
        (other,) = homoglyphs
        if len(other) != 1 or len(data.get(other, ())) > 1:
            table[char] = other
        elif other < char:
            table[char] = other
    # Prototypes are meant to be fixed points; close the table over the few that are
    # not (mostly through the pair choice above).
    for _ in range(4):
        changed = False
        for char, prototype in table.items():
            mapped = "".join(table.get(c, c) for c in prototype)
            if mapped != prototype:
                table[char] = mapped
                changed = True
        if not changed:
            break
    return {ord(char): prototype for char, prototype in table.items() if prototype != char}


def skeleton(value: str) -> str:
    """The UTS #39 skeleton of ``value``: each character replaced by its prototype.

    Cyrillic ``і`` and ``о``, Greek ``ι`` and mathematical letters map to Latin ones;
    ``m`` maps to ``rn`` and ``0`` to ``O``, as in Unicode's data. Linear in the length.
    """
    return _without_marks(unicodedata.normalize("NFD", value).translate(_prototypes()))


def matching_form(value: str) -> str:
    """How ``value`` looks, for matching blocked words against what readers see.

    Default-ignorable code points removed, NFKC casefolded, combining marks dropped,
    then the UTS #39 confusables skeleton. Two strings that look alike on screen get
    the same form; the result is for comparison only, never for display. Linear.
    """
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", strip_ignorables(value)).casefold())
    return skeleton(_without_marks(folded))
