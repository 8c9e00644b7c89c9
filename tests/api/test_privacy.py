"""No public response carries an email, an address, a hash of either, or a stored secret."""
from __future__ import annotations

import hashlib
import json

import sqlalchemy as sa

from engagement.extensions import db
from engagement.models import Comment
from engagement.privacy import hash_secret
from tests.factories import DEFAULT_ARTICLE, mint_reader, post_comment, reader_headers

EMAIL = "secret.person@example.org"
ADDRESS = "198.51.100.77"


def _public_responses(client, token, created):
    yield client.get(f"/api/v1/articles/{DEFAULT_ARTICLE}/comments", headers=reader_headers(token))
    yield client.get(f"/api/v1/articles/{DEFAULT_ARTICLE}/comments?sort=top")
    yield client.patch(
        f"/api/v1/comments/{created['id']}", json={"body": "edited"}, headers={"X-Edit-Token": created["edit_token"]}
    )
    for path in ("/api/v1/articles/" + DEFAULT_ARTICLE, "/api/v1/counts?articles=" + DEFAULT_ARTICLE,
                 "/api/v1/trending", f"/api/v1/articles/{DEFAULT_ARTICLE}/reactions"):
        yield client.get(path, headers=reader_headers(token))


def test_public_responses_contain_no_personal_data_or_secrets(app, client):
    token = mint_reader(client)
    response = client.post(
        f"/api/v1/articles/{DEFAULT_ARTICLE}/comments",
        json={"body": "hello", "author_email": EMAIL, "author_name": "Pat"},
        headers=reader_headers(token),
        environ_base={"REMOTE_ADDR": ADDRESS},
    )
    assert response.status_code == 201
    created = response.get_json()
    with app.app_context():
        stored = db.session.scalars(sa.select(Comment)).one()
        forbidden = {
            EMAIL, EMAIL.split("@")[0], ADDRESS, stored.reader_hash, stored.address_hash,
            stored.edit_token_hash, hash_secret(EMAIL), created["edit_token"], token,
        }
    # The creation response may carry the edit token it just issued, and nothing else secret.
    creation_text = json.dumps(created)
    assert not any(value in creation_text for value in forbidden - {created["edit_token"]})

    for public in _public_responses(client, token, created):
        text = public.get_data(as_text=True)
        leaked = [value for value in forbidden if value in text]
        assert not leaked, (public.request.path, leaked)


def test_raw_addresses_and_tokens_are_never_stored(app, client):
    token = mint_reader(client)
    response = client.post(
        f"/api/v1/articles/{DEFAULT_ARTICLE}/comments",
        json={"body": "hello"},
        headers=reader_headers(token),
        environ_base={"REMOTE_ADDR": ADDRESS},
    )
    created = response.get_json()
    with app.app_context():
        row = db.session.execute(sa.select(Comment.__table__)).mappings().one()
    stored = json.dumps({k: str(v) for k, v in row.items()})
    assert ADDRESS not in stored
    assert token not in stored
    assert created["edit_token"] not in stored
    assert row["edit_token_hash"] == hash_secret(created["edit_token"])


def test_avatar_is_not_a_plain_hash_of_the_email(client):
    created = post_comment(client, author_email=EMAIL)
    avatar = created["author"]["avatar"]
    for algorithm in ("md5", "sha1", "sha256"):
        digest = hashlib.new(algorithm, EMAIL.encode()).hexdigest()
        assert avatar not in digest
    # stable for the same email, so readers recognise each other
    assert post_comment(client, body="second", author_email=EMAIL)["author"]["avatar"] == avatar
