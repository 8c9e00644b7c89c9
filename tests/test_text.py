"""Plain-text cleaning for names and other fields that are never HTML."""

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engagement.text import clean_plain_text, matching_form, strip_ignorables, strip_unsafe_codepoints

# st.text() never yields surrogates; the second alphabet leans on the awkward ones.
TEXT = st.text() | st.text(st.characters(categories=["L", "M", "Zs", "Zl", "Zp", "Cc", "Cf", "Cs"]))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Ana", "Ana"),
        ("e\u0301", "\u00e9"),
        ("Zoe\u0308 Saldan\u0303a", "Zo\u00eb Salda\u00f1a"),
        ("e\u200d\u0301", "\u00e9"),  # NFC applies after the joiner is gone
        ("A\u200bn\u200ca\u200d", "Ana"),
        ("\ufeffAna\u00ad", "Ana"),
        ("\u202eanA\u202c", "anA"),
        ("\u202a\u202b\u202c\u202d\u202eAna", "Ana"),
        ("\u2066\u2067\u2068Ana\u2069", "Ana"),
        ("\u200eAna\u200f", "Ana"),
        ("A\x00n\x07a\x1b[31m", "Ana[31m"),
        ("A\x7fn\x85a\x9f", "Ana"),
        ("Ana\tMar\u00eda\r\nL\u00f3pez", "Ana Mar\u00eda L\u00f3pez"),
        ("Ana\u2028Maria\u2029Lopez", "Ana Maria Lopez"),
        ("  Ana   \u00a0 Maria  ", "Ana Maria"),
        ("\u3000Ana\u2003", "Ana"),
        ("<b>Ana</b>", "<b>Ana</b>"),
        ("<script>alert(1)</script>", "<script>alert(1)</script>"),
        ("Tom &amp; Jerry", "Tom &amp; Jerry"),
        ("A\ud800n\udfffa", "Ana"),
        ("\x00\u200b\t\n ", ""),
        ("", ""),
        ("\U0001f600 Ana", "\U0001f600 Ana"),
        # Other default-ignorables: Hangul fillers, variation selectors, CGJ, tag characters.
        ("\u3164", ""),
        ("\u3164 \u3164", ""),
        ("\u115fAna\u1160\uffa0", "Ana"),
        ("A\u034fna\ufe0f", "Ana"),
        ("Ana\U000e0041\U000e007f", "Ana"),
        ("An\u180ba\u17b4", "Ana"),
    ],
)
def test_clean_plain_text(value, expected):
    assert clean_plain_text(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a\x00b", "ab"),
        ("a\ud800b\udbffc\udc00d\udfff", "abcd"),
        # Everything else is left alone: this is for Markdown bodies.
        ("  <b>x</b>\n\n\t\u200b\u202e\x07 ", "  <b>x</b>\n\n\t\u200b\u202e\x07 "),
        ("e\u0301", "e\u0301"),
        ("", ""),
    ],
)
def test_strip_unsafe_codepoints(value, expected):
    assert strip_unsafe_codepoints(value) == expected


# Each range of Default_Ignorable_Code_Point, by its first and last code point.
IGNORABLES = [
    "\u00ad", "\u034f", "\u061c", "\u115f", "\u1160", "\u17b4", "\u17b5", "\u180b", "\u180f",
    "\u200b", "\u200f", "\u202a", "\u202e", "\u2060", "\u206f", "\u3164", "\ufe00", "\ufe0f",
    "\ufeff", "\uffa0", "\ufff0", "\ufff8", "\U0001bca0", "\U0001bca3", "\U0001d173", "\U0001d17a",
    "\U000e0000", "\U000e0fff",
]


@pytest.mark.parametrize("char", IGNORABLES, ids=[f"U+{ord(c):04X}" for c in IGNORABLES])
def test_default_ignorables_are_stripped(char):
    assert strip_ignorables(f"a{char}b{char}") == "ab"
    assert matching_form(f"id{char}iot") == "idiot"


@pytest.mark.parametrize("char", ["\u00ac", "\u0350", "\u2070", "\u3165", "\ufe10", "\U000e1000", " ", "\u00a0"])
def test_neighbours_of_the_ignorables_are_kept(char):
    assert strip_ignorables(f"a{char}b") == f"a{char}b"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("idiot", "idiot"),
        ("IDIOT", "idiot"),
        ("\uff29\uff24\uff29\uff2f\uff34", "idiot"),  # full width
        ("\u0456di\u043et", "idiot"),  # Cyrillic і, о
        ("\u03b9diot", "idiot"),  # Greek iota
        ("\U0001d422diot", "idiot"),  # mathematical bold i
        ("i\u0307diot", "idiot"),  # combining dot above
        ("\u00eddi\u00f6t", "idiot"),  # precomposed accents
        ("id\u00adi\u200bot", "idiot"),
        ("Stra\u00dfe", "strasse"),
        ("midiot", "rnidiot"),  # m looks like rn (UTS #39), so it is not "idiot"
        ("idiots", "idiots"),
        ("buy  pills", "buy  pills"),  # white space is left to the tokenizer
    ],
)
def test_matching_form(value, expected):
    assert matching_form(value) == expected


@settings(max_examples=200, deadline=None, database=None)
@given(TEXT)
def test_matching_form_properties(value):
    form = matching_form(value)
    assert strip_ignorables(form) == form
    assert not any(unicodedata.category(char) in {"Mn", "Me"} for char in form)


@settings(max_examples=200, deadline=None, database=None)
@given(TEXT)
def test_clean_plain_text_properties(value):
    cleaned = clean_plain_text(value)
    assert strip_ignorables(cleaned) == cleaned
    assert not any(unicodedata.category(char) in {"Cc", "Cf", "Cs", "Zl", "Zp"}
                   for char in cleaned)
    assert unicodedata.is_normalized("NFC", cleaned)
    assert cleaned == cleaned.strip()
    assert "  " not in cleaned
    assert clean_plain_text(cleaned) == cleaned


@settings(max_examples=200, deadline=None, database=None)
@given(TEXT)
def test_strip_unsafe_codepoints_properties(value):
    stripped = strip_unsafe_codepoints(value)
    stripped.encode("utf-8")  # storable: no lone surrogates
    assert "\x00" not in stripped
    assert stripped == "".join(c for c in value if c != "\x00" and not "\ud800" <= c <= "\udfff")
