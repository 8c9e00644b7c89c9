"""Replies placed as they are inserted (their parent stored and placed already) end up
exactly where the set-wide placing at the end of an import puts them."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engagement.extensions import db
from engagement.models import Article, Comment
from engagement.services import importing
from tests.importing.disqus_files import export, post, thread

THREADS = ("1", "2", "3")


@st.composite
def forests(draw) -> list[tuple[str, str, str | None, bool]]:
    """Posts as (id, thread, parent id, deleted): parents before or after their replies, in
    another thread, missing, in cycles, and chains deeper than the site's maximum depth."""
    count = draw(st.integers(min_value=1, max_value=30))
    posts = []
    for number in range(count):
        parent = draw(st.one_of(
            st.none(),
            st.integers(min_value=0, max_value=count - 1).map(str),  # before, after, or itself
            st.just(str(number - 1)),  # a chain
            st.just("missing"),
        ))
        posts.append((str(number), draw(st.sampled_from(THREADS)), parent if parent != "-1" else None,
                      draw(st.booleans()) and draw(st.booleans())))
    return posts


def document(posts: list[tuple[str, str, str | None, bool]]) -> str:
    return export(
        *[thread(ref, f"https://example.org/story-{ref}/") for ref in THREADS],
        *[post(number, ref, f"Comment {number}", parent=parent, deleted=deleted)
          for number, ref, parent, deleted in posts],
    )


def stored_tree(app) -> dict[str, tuple]:
    """Each comment's place by import id: parent, root, depth, replies; and each article's count."""
    with app.app_context():
        comments = db.session.scalars(sa.select(Comment)).all()
        import_id = {comment.id: comment.import_id for comment in comments}
        tree = {
            comment.import_id: (import_id.get(comment.parent_id), import_id.get(comment.root_id), comment.depth,
                                comment.reply_count, comment.status.value)
            for comment in comments
        }
        tree.update({article.key: article.comment_count for article in db.session.scalars(sa.select(Article))})
        db.session.execute(sa.delete(Comment))
        db.session.execute(sa.delete(Article))
        db.session.commit()
        db.session.remove()
    return tree


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(posts=forests())
def test_placing_on_insert_matches_placing_at_the_end(app, cli, write_file, monkeypatch, posts):
    path = write_file("forest.xml", document(posts))
    outcomes = []
    for batch_size in (1000, 1, 2):  # one batch: all placed at the end; small batches: most on insert
        with monkeypatch.context() as patch:
            patch.setattr(importing, "BATCH_SIZE", batch_size)
            result = cli("import", "disqus", str(path), "--workers", "0")
        assert result.exit_code == 0, result.output
        outcomes.append((result.output, stored_tree(app)))
    assert outcomes[1] == outcomes[0]
    assert outcomes[2] == outcomes[0]


@pytest.mark.parametrize("batch_size", [1, 1000])
def test_a_newer_export_places_replies_to_comments_of_the_earlier_one(app, cli, write_file, monkeypatch, batch_size):
    monkeypatch.setattr(importing, "BATCH_SIZE", batch_size)
    max_depth = app.extensions["engagement.settings"].max_depth
    chain = [(str(n), "1", str(n - 1) if n else None, False) for n in range(max_depth + 3)]
    first, second = chain[: max_depth], chain
    assert cli("import", "disqus", str(write_file("first.xml", document(first))), "--workers", "0").exit_code == 0
    assert cli("import", "disqus", str(write_file("second.xml", document(second))), "--workers", "0").exit_code == 0
    tree = stored_tree(app)
    assert [tree[number][2] for number, *_ in chain] == [min(n, max_depth) for n in range(len(chain))]
    deepest = str(max_depth - 1)
    assert {tree[number][0] for number, *_ in chain[max_depth:]} == {deepest}
    assert tree[deepest][3] == len(chain) - max_depth
    assert {tree[number][1] for number, *_ in chain[1:]} == {"0"}
