"""SMTP settings from ENGAGEMENT_SMTP_URL, the mail settings' checks at start, and a login against a real server."""
from __future__ import annotations

from email.message import EmailMessage

import pytest

from engagement.config import ConfigurationError, load_config
from engagement.mailer import Mailer, MailNotSent, SmtpSettings
from tests.support.smtp_server import SmtpServer


@pytest.mark.parametrize(
    "url, expected",
    [
        ("smtp://relay.internal", ("relay.internal", 25, False, False, None, None)),
        ("smtp://user%40news.example:p%3Ass%2Fw@smtp.example:587?starttls=1",
         ("smtp.example", 587, False, True, "user@news.example", "p:ss/w")),
        ("smtps://me:secret@smtp.example", ("smtp.example", 465, True, False, "me", "secret")),
    ],
)
def test_smtp_urls_name_the_server_the_tls_and_the_login(url, expected):
    settings = SmtpSettings.from_url(url)
    assert (settings.host, settings.port, settings.implicit_tls, settings.starttls,
            settings.username, settings.password) == expected


@pytest.mark.parametrize(
    "url", ["http://smtp.example", "smtp://", "smtps://smtp.example?starttls=1", "smtp://" + "a" * 3000]
)
def test_malformed_smtp_urls_are_refused(url):
    with pytest.raises(ValueError):
        SmtpSettings.from_url(url)


MAIL = {"ENGAGEMENT_SMTP_URL": "smtp://127.0.0.1:2525", "ENGAGEMENT_MAIL_FROM": "comments@news.example",
        "ENGAGEMENT_PUBLIC_URL": "https://comments.news.example"}


@pytest.mark.parametrize(
    "missing, changed",
    [
        ("ENGAGEMENT_MAIL_FROM", {}),
        ("ENGAGEMENT_PUBLIC_URL", {}),
        (None, {"ENGAGEMENT_PUBLIC_URL": "comments.news.example"}),
        (None, {"ENGAGEMENT_SMTP_URL": "mail.example:25"}),
        (None, {"ENGAGEMENT_MODERATOR_DIGEST_MINUTES": "0"}),
    ],
)
def test_mail_settings_come_as_a_set(tmp_path, missing, changed):
    environ = {**MAIL, **changed}
    environ.pop(missing or "", None)
    with pytest.raises(ConfigurationError):
        load_config(str(tmp_path), environ=environ)


def test_mail_is_off_without_a_server_and_on_with_the_set(tmp_path):
    assert load_config(str(tmp_path), environ={})["SMTP_URL"] is None
    config = load_config(str(tmp_path), environ={**MAIL, "ENGAGEMENT_MODERATOR_EMAILS": "a@x.example, b@x.example"})
    assert config["MODERATOR_EMAILS"] == ["a@x.example", "b@x.example"]
    assert config["MODERATOR_DIGEST_MINUTES"] == 15


def _message() -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "comments@news.example", "ana@example.org", "Hi"
    message.set_content("Hello.")
    return message


def test_the_mailer_logs_in_and_a_wrong_password_is_a_permanent_failure():
    server = SmtpServer(login=("comments@news.example", "s3cret:/")).start()
    try:
        good = f"smtp://comments%40news.example:s3cret%3A%2F@127.0.0.1:{server.url.rsplit(':', 1)[1]}"
        Mailer(SmtpSettings.from_url(good)).send(_message())
        [received] = server.take()
        assert received["Subject"] == "Hi"

        with pytest.raises(MailNotSent) as refused:
            Mailer(SmtpSettings.from_url(good.replace("s3cret", "wrong"))).send(_message())
        assert refused.value.permanent and refused.value.code == 535
        assert server.take() == []
    finally:
        server.stop()
