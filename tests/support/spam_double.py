"""A stand-in for an Akismet-style spam service, plugged in through ENGAGEMENT_SPAM_CHECKS."""
from __future__ import annotations

from engagement.models import CommentStatus
from engagement.services.policy import Verdict

calls: list[str] = []


def classify(session, submission, settings):
    """Marks bodies mentioning 'miracle pills' as spam; records every body it saw."""
    calls.append(submission.body_source)
    if "miracle pills" in submission.body_source.lower():
        return Verdict(CommentStatus.SPAM, ("external:spam-double",))
    return None
