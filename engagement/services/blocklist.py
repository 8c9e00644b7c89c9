"""The blocklist: words that hold or reject a comment.

Matching is whole-word, case-insensitive and Unicode-aware: the body and the words are
both NFKC-normalised and casefolded (so full-width or other compatibility look-alikes
match their plain letters), invisible format characters are removed from the body, and
a word matches only where no letter or digit touches it on either side. The list is read
from the database on every check, so an edit takes effect at once for every worker.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engagement.errors import ValidationFailed
from engagement.models import BlockedWord, BlocklistAction, SiteSetting
from engagement.services import audit
from engagement.services.articles import dialect_insert
from engagement.text import clean_plain_text

ACTION_SETTING = "blocklist_action"
DEFAULT_ACTION = BlocklistAction.HOLD
WORD_MAX_LENGTH = 100
NORMALIZED_MAX_LENGTH = 200
MAX_WORDS = 1000

# Zero-width and other format characters would otherwise split a word invisibly.
_FORMAT_CHARACTERS = re.compile(r"[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff]")


@dataclass(frozen=True)
class Blocklist:
    words: list[str]
    action: BlocklistAction


def normalize(text: str) -> str:
    """NFKC casefolding (as Unicode's NFKC_Casefold), with white space runs collapsed."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return " ".join(folded.split())


@lru_cache(maxsize=32)
def _pattern(words: tuple[str, ...]) -> re.Pattern[str]:
    # Longest first, so a phrase wins over a word it starts with.
    alternatives = "|".join(re.escape(word) for word in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.UNICODE)


def find_blocked_word(words: tuple[str, ...], text: str) -> str | None:
    """The first normalised blocked word found in ``text`` as a whole word, or None."""
    if not words:
        return None
    match = _pattern(words).search(normalize(_FORMAT_CHARACTERS.sub("", text)))
    return match.group(0) if match else None


def _action(session: Session) -> BlocklistAction:
    value = session.scalar(sa.select(SiteSetting.value).where(SiteSetting.name == ACTION_SETTING))
    return BlocklistAction(value) if value else DEFAULT_ACTION


def screen(session: Session, text: str) -> BlocklistAction | None:
    """The action to take on ``text``: None when it contains no blocked word."""
    words = tuple(session.scalars(sa.select(BlockedWord.normalized)).all())
    if find_blocked_word(words, text) is None:
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
    upsert = dialect_insert(session, SiteSetting).values(name=ACTION_SETTING, value=new_action.value)
    session.execute(upsert.on_conflict_do_update(index_elements=["name"], set_={"value": new_action.value}))
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
