"""The widget with the site's accounts: it signs the reader in (from an attribute, or later
through EngagementWidget.signIn), posts under the site's name with the verified mark, and
where sign-in is required offers the site's sign-in link instead of the form."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.e2e.conftest import HttpApi, PublisherSite, _serving, expect, mount_widget
from tests.support.sso import AUDIENCE, SITE_SECRET, site_token

pytestmark = pytest.mark.browser

LOGIN_URL = "https://news.example/login"


@pytest.fixture
def sso_api(site: PublisherSite, live_api: HttpApi, tmp_path: Path) -> Iterator[HttpApi]:
    """An API of its own with sign-on configured and required, called from the publisher's page."""
    settings = {"SSO_SECRET": SITE_SECRET, "SSO_AUDIENCE": AUDIENCE, "SSO_REQUIRED": True}
    with _serving(tmp_path, lambda _origin: [site.origin], **settings) as api:
        yield api


def _open(new_tab: Any, site: PublisherSite) -> Any:
    # The plain page: the strict one's CSP allows only the session's API origin.
    tab = new_tab()
    tab.page.goto(site.url("plain.html", "e2e-sso-host"))
    return tab


def test_a_signed_in_reader_comments_under_the_sites_name_with_the_verified_mark(
    new_tab: Any, site: PublisherSite, sso_api: HttpApi
) -> None:
    tab = _open(new_tab, site)
    widget = mount_widget(tab.page, "e2e-sso", {
        "data-engagement-api": sso_api.origin, "data-engagement-sso-token": site_token(),
        "data-engagement-login-url": LOGIN_URL,
    })
    expect(widget.locator(".eng-as")).to_have_text("Commenting as Ana Lima")
    expect(widget.locator('input[name="name"]')).to_have_count(0)
    widget.locator("textarea").first.fill("Signed in, and it shows.")
    widget.locator("button.eng-primary").first.click()
    card = widget.locator(".eng-card").first
    expect(card.locator(".eng-author")).to_have_text("Ana Lima")
    expect(card.locator(".eng-verified")).to_contain_text("Verified")
    expect(card.locator("img.eng-avatar")).to_have_attribute("src", "https://news.example/ana.png")

    thread = sso_api.thread("e2e-sso")["comments"]
    assert [(c["author"]["name"], c["author"]["verified"]) for c in thread] == [("Ana Lima", True)]
    tab.assert_clean()


def test_where_sign_in_is_required_the_reader_is_offered_the_sites_link_then_signs_in_later(
    new_tab: Any, site: PublisherSite, sso_api: HttpApi
) -> None:
    bea = sso_api.ok("POST", "/api/v1/readers/sso", {"token": site_token(sub="bea", name="Bea")})["reader_token"]
    sso_api.post_comment("e2e-sso-later", "Subscribers only here.", {"X-Reader-Token": bea})

    tab = _open(new_tab, site)
    widget = mount_widget(tab.page, "e2e-sso-later", {
        "data-engagement-api": sso_api.origin, "data-engagement-login-url": LOGIN_URL,
    })
    expect(widget.locator(".eng-card .eng-verified")).to_have_count(1)  # reading stays public
    link = widget.locator(".eng-signin a")
    expect(link).to_have_text("Sign in to comment")
    expect(link).to_have_attribute("href", LOGIN_URL)
    expect(widget.locator(".eng-compose textarea")).to_have_count(0)

    # The page fetches the reader's token later (after its own login) and hands it over.
    name = tab.page.evaluate("(jwt) => EngagementWidget.signIn(jwt).then((me) => me.name)", site_token(sub="caio", name="Caio"))
    assert name == "Caio"
    expect(widget.locator(".eng-as")).to_have_text("Commenting as Caio")
    widget.locator(".eng-compose textarea").fill("Now I can.")
    widget.locator(".eng-compose button.eng-primary").click()
    expect(widget.locator(".eng-card")).to_have_count(2)
    assert [c["author"]["name"] for c in sso_api.thread("e2e-sso-later")["comments"]] == ["Bea", "Caio"]

    tab.page.evaluate("() => EngagementWidget.signOut()")
    expect(widget.locator(".eng-signin a")).to_have_text("Sign in to comment")
    tab.assert_clean()
