"""The blocklist: words that hold or reject a comment.

Matching is on what readers see (the rendered text, see ``policy``), whole-word and
Unicode-aware: the text and the words are both brought to their ``matching_form``
(invisible code points removed, NFKC casefolded, combining marks dropped, UTS #39
confusables skeleton), so ``іdіоt`` in Cyrillic letters, ``id&shy;iot`` or full-width
letters match ``idiot``. Both are split into tokens (runs of letters, digits and ``_``,
and single other characters) and an entry matches a run of whole tokens, so ``idiots``
does not match ``idiot`` and ``buy **pills**`` matches ``buy pills``.

Every edit of the list also writes a new random version (a row of ``site_settings``), and
each check reads that one row (``VERSION``, which the policy reads along with its other
facts): a worker reads the words themselves (up to a thousand rows) only when the
version differs from the one of the list it kept, so an edit takes effect at once for
every worker while a post on a busy site reads one row, not the list. The matcher built
from a list is cached per worker too.
"""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engagement.errors import ValidationFailed
from engagement.models import BlockedWord, BlocklistAction, SiteSetting
from engagement.services import audit
from engagement.services.articles import dialect_insert
from engagement.services.statements import run
from engagement.text import clean_plain_text, matching_form

ACTION_SETTING = "blocklist_action"
VERSION_SETTING = "blocklist_version"  # absent: the list was never edited, and is empty
DEFAULT_ACTION = BlocklistAction.HOLD
WORD_MAX_LENGTH = 100
NORMALIZED_MAX_LENGTH = 200
MAX_WORDS = 1000

# One linear tokenizer for text and entries alike: word runs, or one other visible character.
_TOKEN = re.compile(r"\w+|[^\w\s]")
# The key under which a trie node keeps the entry that ends there.
_END = ""


@dataclass(frozen=True)
class Blocklist:
    words: list[str]
    action: BlocklistAction


def tokens(text: str) -> list[str]:
    """The tokens of ``text``'s matching form (linear in its length)."""
    return _TOKEN.findall(matching_form(text))


def normalize(text: str) -> str:
    """The form an entry is matched (and deduplicated) in: its tokens, one space apart."""
    return " ".join(tokens(text))


@lru_cache(maxsize=32)
def _trie(words: tuple[str, ...]) -> dict:
    # A trie of token sequences: from each position of the text the walk goes at most
    # as deep as the longest entry, whatever the number of entries.
    root: dict = {}
    for word in words:
        entry = tokens(word)
        if not entry:
            continue
        node = root
        for token in entry:
            node = node.setdefault(token, {})
        node[_END] = " ".join(entry)
    return root


def find_blocked_word(words: tuple[str, ...], text: str) -> str | None:
    """The first of ``words`` (as typed) that ``text`` contains as whole words, or None.

    Returns the entry's normalised form; the longest entry starting at the earliest
    position wins. Linear in the length of ``text`` times the tokens of the longest
    entry (at most NORMALIZED_MAX_LENGTH), whatever the number of entries.
    """
    return _first_entry(_trie(words), text) if words else None


def _first_entry(root: dict, text: str) -> str | None:
    """``find_blocked_word`` with the list's trie (``_trie``) already built."""
    found = tokens(text)
    for start in range(len(found)):
        node, match, position = root, None, start
        while position < len(found) and (node := node.get(found[position])) is not None:
            match = node.get(_END, match)
            position += 1
        if match is not None:
            return match
    return None


_SETTINGS = SiteSetting.__table__
_WORDS = sa.select(BlockedWord.__table__.c.word).order_by(BlockedWord.__table__.c.id)
_ACTION = sa.select(_SETTINGS.c.value).where(_SETTINGS.c.name == ACTION_SETTING)
# The list's version, or NULL while the list was never edited (also a scalar subquery).
VERSION = sa.select(_SETTINGS.c.value).where(_SETTINGS.c.name == VERSION_SETTING)


def _action(session: Session) -> BlocklistAction:
    value = run(session, _ACTION).scalar()
    return BlocklistAction(value) if value else DEFAULT_ACTION


class _KeptList:
    """The matcher (``_trie``) of the list this worker read last, with the list's version.

    A version is random and written with the list it names, so it names that list in any
    database this process serves (tests serve several); one tuple, so threads never see a
    version with another version's matcher.
    """

    def __init__(self) -> None:
        self.entry: tuple[str, dict] | None = None

    def matcher(self, session: Session, version: str | None) -> dict:
        """The matcher of the list whose version (``VERSION``) the caller read in this transaction."""
        if version is None:
            return {}
        kept = self.entry
        if kept is not None and kept[0] == version:
            return kept[1]
        # Entries as typed, not their stored normal form: the matcher normalises them
        # itself, so a change of normalisation needs no migration of stored rows.
        root = _trie(tuple(run(session, _WORDS).scalars()))
        self.entry = (version, root)
        return root


_kept_list = _KeptList()


def screen(session: Session, text: str, version: str | None) -> BlocklistAction | None:
    """The action to take on ``text`` (what readers see): None when it contains no blocked
    word. ``version`` is the list's ``VERSION``, read in the same transaction."""
    root = _kept_list.matcher(session, version)
    if not root or _first_entry(root, text) is None:
        return None
    return _action(session)


def get_blocklist(session: Session) -> Blocklist:
    words = session.scalars(sa.select(BlockedWord.word).order_by(BlockedWord.id)).all()
    return Blocklist(list(words), _action(session))


def _clean_words(words: list[str]) -> dict[str, str]:
    """Normalised form -> word as entered, first spelling kept; raises ValidationFailed."""
    cleaned: dict[str, str] = {}
    problems: list[str] = []
    for position, raw in enumerate(words):
        word = clean_plain_text(raw)
        normalized = normalize(word)
        if not word or not normalized:
            problems.append(f"Entry {position} is empty.")
        elif len(word) > WORD_MAX_LENGTH or len(normalized) > NORMALIZED_MAX_LENGTH:
            problems.append(f"Entry {position} is longer than {WORD_MAX_LENGTH} characters.")
        else:
            cleaned.setdefault(normalized, word)
    if problems:
        raise ValidationFailed({"words": problems})
    if len(cleaned) > MAX_WORDS:
        raise ValidationFailed({"words": [f"At most {MAX_WORDS} words."]})
    return cleaned


def replace_blocklist(
    session: Session, *, words: list[str], action: BlocklistAction | None, actor: str, now: datetime
) -> Blocklist:
    """Replace the whole list (and the action, when given).

    Words are cleaned as plain text and deduplicated by their normalised form.
    Raises ValidationFailed for empty or too long entries or more than MAX_WORDS.
    """
    before = get_blocklist(session)
    cleaned = _clean_words(words)
    session.execute(sa.delete(BlockedWord))
    if cleaned:
        session.execute(
            sa.insert(BlockedWord), [{"word": word, "normalized": key} for key, word in cleaned.items()]
        )
    new_action = action or before.action
    _write_setting(session, ACTION_SETTING, new_action.value)
    _write_setting(session, VERSION_SETTING, secrets.token_hex(16))  # every worker reads the new list
    after = Blocklist(list(cleaned.values()), new_action)
    audit.record(
        session, actor=actor, action="blocklist.replace", target="blocklist",
        details={
            "added": [word for word in after.words if word not in before.words],
            "removed": [word for word in before.words if word not in after.words],
            "before": {"action": before.action.value, "count": len(before.words)},
            "after": {"action": after.action.value, "count": len(after.words)},
        },
        now=now,
    )
    return after


def _write_setting(session: Session, name: str, value: str) -> None:
    upsert = dialect_insert(session, SiteSetting).values(name=name, value=value)
    session.execute(upsert.on_conflict_do_update(index_elements=["name"], set_={"value": value}))
