"""The widget offers reply e-mails only where the service sends mail, and asks for them when ticked."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest
import sqlalchemy as sa

from engagement.extensions import db
from engagement.models import ReplySubscription
from tests.e2e.conftest import HttpApi, _serving, expect

pytestmark = pytest.mark.browser

CHOICE = "E-mail me when someone replies (we will ask you to confirm first)."


@pytest.fixture
def mail_api(tmp_path: Path) -> Iterator[HttpApi]:
    """An API that sends mail (no server needs to listen: only the worker sends)."""
    with _serving(
        tmp_path, lambda api_origin: [api_origin], SMTP_URL="smtp://127.0.0.1:2525",
        MAIL_FROM="comments@news.example", PUBLIC_URL="https://comments.news.example",
    ) as api:
        yield api


def _subscriptions(api: HttpApi) -> list[str]:
    with api.app.app_context():
        return list(db.session.scalars(sa.select(ReplySubscription.email)).all())


def test_a_reader_asks_for_reply_mails_where_mail_is_set_up(new_tab: Any, mail_api: HttpApi) -> None:
    tab = new_tab()
    page = tab.page
    page.goto(f"{mail_api.origin}/demo")
    compose = page.locator(".eng-compose form")
    choice = compose.get_by_label(CHOICE)
    expect(choice).to_be_visible()
    compose.get_by_label("Your comment").fill("Tell me when someone answers.")
    compose.get_by_label("Email (optional)").fill("ana@example.org")
    choice.check()
    compose.get_by_role("button", name="Post comment").click()
    expect(page.locator(".eng-item", has_text="Tell me when someone answers.")).to_be_visible()
    assert _subscriptions(mail_api) == ["ana@example.org"]
    tab.assert_clean()


def test_no_reply_mails_are_offered_without_mail(new_tab: Any, fresh_api: HttpApi) -> None:
    tab = new_tab()
    page = tab.page
    page.goto(f"{fresh_api.origin}/demo")
    compose = page.locator(".eng-compose form")
    compose.get_by_label("Your comment").fill("No mail here.")
    compose.get_by_label("Email (optional)").fill("ana@example.org")
    compose.get_by_role("button", name="Post comment").click()
    expect(page.locator(".eng-item", has_text="No mail here.")).to_be_visible()
    # The thread has loaded (and said reply_notifications: false) well before the comment shows.
    expect(compose.get_by_label(CHOICE)).to_be_hidden()
    expect(page.locator(".eng-notify")).to_have_count(1)
    assert _subscriptions(fresh_api) == []
    tab.assert_clean()
