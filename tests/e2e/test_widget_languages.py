"""The widget speaks the page's language: shipped catalogues, a site's own, plurals by Intl.PluralRules."""
from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e.conftest import HttpApi, PublisherSite, expect, mount_widget

pytestmark = pytest.mark.browser


def _seed(live_api: HttpApi, article: str, comments: int) -> None:
    for n in range(comments):
        live_api.post_comment(article, f"Comment number {n + 1} on the tide clock.", live_api.reader())


def test_german_from_the_page_language_with_plurals_and_relative_times(
    new_tab: Any, site: PublisherSite, live_api: HttpApi
) -> None:
    _seed(live_api, "e2e-lang-de-one", 1)
    _seed(live_api, "e2e-lang-de-two", 2)
    tab = new_tab()
    page = tab.page
    page.clock.install()
    page.goto(site.url("article.html", "e2e-lang-de-one"))
    expect(page.locator("#comments .eng-heading")).to_have_text("1 comment")  # the demo page is English

    one = mount_widget(page, "e2e-lang-de-one", lang="de-AT")
    expect(one.locator(".eng-heading")).to_have_text("1 Kommentar")
    expect(one.locator(".eng")).to_have_attribute("lang", "de-at")
    expect(one.locator(".eng-prompt")).to_have_text("Wie fanden Sie den Artikel?")
    expect(one.get_by_role("button", name="Kommentar senden")).to_be_visible()
    expect(one.get_by_label("Sortierung")).to_have_value("oldest")
    expect(one.locator(".eng-time")).to_have_text("gerade eben")
    expect(one.get_by_role("button", name="Antworten")).to_be_visible()

    # A tag Intl refuses ("de-a": a lone extension singleton) falls back to its language.
    two = mount_widget(page, "e2e-lang-de-two", {"data-engagement-lang": "de-a"})
    expect(two.locator(".eng-heading")).to_have_text("2 Kommentare")
    page.clock.fast_forward("02:00:00")
    expect(two.locator(".eng-time").first).to_have_text("vor 2 Stunden")

    two.get_by_label("Ihr Kommentar").fill("   ")
    two.get_by_role("button", name="Kommentar senden").click()
    expect(two.locator('[data-field="body"] .eng-field-error')).to_have_text("Schreiben Sie zuerst etwas.")
    tab.assert_clean()


def test_french_counts_zero_as_singular(new_tab: Any, site: PublisherSite, live_api: HttpApi) -> None:
    _seed(live_api, "e2e-lang-fr-two", 2)
    tab = new_tab()
    page = tab.page
    page.goto(site.url("article.html", "e2e-lang-fr-none"))
    page.evaluate("() => { document.documentElement.lang = 'fr'; }")
    none = mount_widget(page, "e2e-lang-fr-none")
    expect(none.locator(".eng-heading")).to_have_text("0 commentaire")
    expect(none.locator(".eng-msg").last).to_have_text("Aucun commentaire pour l’instant. Soyez le premier à réagir.")
    two = mount_widget(page, "e2e-lang-fr-two")
    expect(two.locator(".eng-heading")).to_have_text("2 commentaires")
    expect(two.get_by_role("group", name="Qu’en avez-vous pensé ?")).to_be_visible()
    tab.assert_clean()


def test_a_site_adds_its_own_catalogue_without_a_build_step(
    new_tab: Any, site: PublisherSite, live_api: HttpApi
) -> None:
    """A partial Polish catalogue from the site's origin: its plural forms apply, missing keys stay English."""
    site.files["/lang/pl.json"] = (json.dumps({
        "comments": {"one": "{n} komentarz", "few": "{n} komentarze", "many": "{n} komentarzy",
                     "other": "{n} komentarza"},
        "reply": "Odpowiedz",
        "sort": 42,  # not a message: ignored
    }).encode(), "application/json")
    _seed(live_api, "e2e-lang-pl-two", 2)
    _seed(live_api, "e2e-lang-pl-five", 5)
    tab = new_tab()
    page = tab.page
    page.goto(site.url("article.html", "e2e-lang-pl-two"))
    catalogue = {"data-engagement-lang": "pl", "data-engagement-catalogue": "/lang/pl.json"}
    two = mount_widget(page, "e2e-lang-pl-two", catalogue)
    expect(two.locator(".eng-heading")).to_have_text("2 komentarze")
    expect(two.get_by_role("button", name="Odpowiedz")).to_have_count(2)
    expect(two.get_by_label("Sort")).to_be_visible()
    five = mount_widget(page, "e2e-lang-pl-five", catalogue)
    expect(five.locator(".eng-heading")).to_have_text("5 komentarzy")

    # A site may reword English too: its catalogue wins over the built-in messages it names.
    site.files["/lang/house-en.json"] = (json.dumps({"comments": {"one": "{n} thought", "other": "{n} thoughts"}}).encode(),
                                         "application/json")
    house = mount_widget(page, "e2e-lang-pl-five", {"data-engagement-catalogue": "/lang/house-en.json"})
    expect(house.locator(".eng-heading")).to_have_text("5 thoughts")
    expect(house.get_by_role("button", name="Reply")).to_have_count(5)

    # A language nobody ships, without a catalogue, and a catalogue that fails to load: English.
    for attributes in ({"data-engagement-lang": "sv"}, {"data-engagement-lang": "pl", "data-engagement-catalogue": "/lang/missing.json"}):
        fallback = mount_widget(page, "e2e-lang-pl-five", attributes)
        expect(fallback.locator(".eng-heading")).to_have_text("5 comments")
        expect(fallback.locator(".eng")).to_have_attribute("lang", "en")
    tab.assert_clean()
