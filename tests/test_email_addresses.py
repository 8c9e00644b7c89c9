"""Stored e-mail addresses: the shortcut for common addresses gives email_validator's answer."""
from __future__ import annotations

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from engagement.schemas.common import normalised_email

ATOM_CHARACTERS = "abcXYZ019!#$%&'*+/=?^_`{|}~-"
DOMAINS = [
    "example.org", "Example.ORG", "gmail.com", "xn--bcher-kva.example", "Bücher.example", "sub.domain.co.uk",
    "localhost", "foo.test", "1.2.3.4", "[1.2.3.4]", "exa mple.org", "-bad.org", "a..b.org", "example.org.",
    "x" * 64 + ".org", ("abcdefghi." * 25) + "org", "",
]
local_parts = st.one_of(
    st.text(alphabet=ATOM_CHARACTERS + ".", min_size=0, max_size=70),
    st.text(min_size=0, max_size=20),  # anything: quotes, spaces, non-ASCII, @
)


def expected(address: str) -> str | Exception:
    try:
        return validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        return exc


@settings(max_examples=400, deadline=None)
@given(local=local_parts, domain=st.sampled_from(DOMAINS))
def test_the_same_normal_form_or_the_same_refusal_as_email_validator(local, domain):
    address = f"{local}@{domain}"
    want = expected(address)
    if isinstance(want, Exception):
        with pytest.raises(EmailNotValidError):
            normalised_email(address)
    else:
        assert normalised_email(address) == want


def test_a_domain_refused_once_is_refused_for_every_local_part():
    for local in ("ana", "bo", "c.d"):
        with pytest.raises(EmailNotValidError):
            normalised_email(f"{local}@foo.test")
    assert normalised_email("Ana.B@Example.ORG") == "Ana.B@example.org"
