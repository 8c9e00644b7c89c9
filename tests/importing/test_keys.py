"""The article key rule for imported threads, and the --map CSV."""
from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engagement.api.common import ArticleKeyConverter
from engagement.importing.keys import ARTICLE_KEY, KeyRule, key_from_text, key_from_url, parse_key_map
from engagement.importing.records import ImportFailed

API_KEY = re.compile(ArticleKeyConverter.pattern)


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("https://example.org/2014/test/", "2014-test"),
        ("/?p=4", "p-4"),
        ("https://example.org/", "index"),
        ("https://example.org", "index"),
        ("https://example.org/?", "index"),
        ("https://example.org/a//b///c/", "a-b-c"),
        ("https://example.org/caf%C3%A9/", "caf-C3-A9"),
        ("https://example.org/café/", "caf"),
        ("https://example.org/news/item.html?id=7&x=y#comments", "news-item.html-id-7-x-y"),
        ("https://example.org/.well-known/", "well-known"),
        ("https://example.org/_drafts/x", "drafts-x"),
        ("https://example.org/:colon", "colon"),
        ("https://example.org/a:b_c.d-e", "a:b_c.d-e"),
        ("https://example.org/" + "x" * 300, "x" * 200),
        ("2014/test", "2014-test"),
    ],
)
def test_urls_give_the_documented_keys(url, key):
    assert key_from_url(url) == key


@pytest.mark.parametrize(
    ("identifier", "key"),
    [("post 7", "post-7"), ("7 https://example.org/?p=7", "7-https:-example.org-p-7"), ("", "index"), ("///", "index")],
)
def test_identifiers_go_through_the_same_rule(identifier, key):
    assert key_from_text(identifier) == key


@given(st.text(max_size=400))
def test_every_text_gives_a_key_the_api_accepts(text):
    key = key_from_text(text)
    assert API_KEY.fullmatch(key) and ARTICLE_KEY.fullmatch(key)
    assert key_from_text(key) == key  # a key is its own key


@given(st.from_regex(r"https?://[a-z]{1,10}\.example/[ -~]{0,300}", fullmatch=True))
def test_every_url_gives_a_key_the_api_accepts(url):
    assert API_KEY.fullmatch(key_from_url(url))


def test_the_map_wins_over_both_rules_and_identifier_keys_fall_back_to_the_url():
    rule = KeyRule("identifier", {"https://example.org/x/": "mapped", "id-9": "also-mapped"})
    assert rule.key_for(url="https://example.org/x/", identifier="id-1") == "mapped"
    assert rule.key_for(url="https://example.org/y/", identifier="id-9") == "also-mapped"
    assert rule.key_for(url="https://example.org/y/", identifier="id 2") == "id-2"
    assert rule.key_for(url="https://example.org/y/", identifier="  ") == "y"
    assert KeyRule("path").key_for(url="https://example.org/y/", identifier="id-2") == "y"


def test_a_key_map_is_read_with_an_optional_header():
    assert parse_key_map(["source,key\n", "https://e.org/a/,a-key\n", "\n", "42, b-key\n"], "map.csv") == {
        "https://e.org/a/": "a-key",
        "42": "b-key",
    }


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["https://e.org/a/\n"], "map.csv, line 1: expected two fields"),
        (["source,key\n", "x,-bad\n"], "map.csv, line 2: '-bad' is not a valid article key"),
        (["x,has space\n"], "is not a valid article key"),
    ],
)
def test_a_bad_key_map_names_its_line(lines, message):
    with pytest.raises(ImportFailed, match=re.escape(message)):
        parse_key_map(lines, "map.csv")


def test_a_bad_key_map_stops_the_command(cli, write_file, table_counts):
    from tests.importing.disqus_files import export, post, thread

    document = write_file("d.xml", export(thread("1", "https://e.org/a/"), post("2", "1", "x")))
    result = cli("import", "disqus", str(document), "--map", str(write_file("m.csv", "a,b,c\n")))
    assert result.exit_code == 1 and "m.csv, line 1" in result.output
    assert table_counts() == {"articles": 0, "comments": 0}
