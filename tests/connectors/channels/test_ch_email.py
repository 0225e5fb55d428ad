"""Given mail posted as Mailgun routes and SendGrid Inbound Parse post it, when it goes
through the hub, then each mail is one threaded interaction on the sender's contact,
stored once, and replays, stale or wrong credentials and broken bodies are refused."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ch_helpers import BASE, channel_runtime, contact, drain, flask_send, interactions, stored

from connectors.email.connector import EmailConnector
from connectors.email.simulator import Email, MailgunSimulator, SendGridSimulator, multipart
from hub.registry import register_connector_type
from hub.runtime import Runtime

KEY = "key-mailgun-signing-0123456789"
USER, PASSWORD = "parse", "sendgrid-parse-password"
URL_TOKEN = "s3cret-path-token-0123456789"

register_connector_type(EmailConnector)


@pytest.fixture
def hub(make_runtime: Callable[..., Runtime]) -> Runtime:
    settings = {
        "mailgun": {"signing_key": KEY},
        "sendgrid": {
            "basic_auth": [{"username": USER, "password": PASSWORD}],
            "url_tokens": [URL_TOKEN],
        },
    }
    return channel_runtime(make_runtime, {"name": "mail", "type": "email", "settings": settings})


def mailgun(runtime: Runtime, key: str = KEY) -> MailgunSimulator:
    return MailgunSimulator(key, f"{BASE}/mail/mailgun", flask_send(runtime))


def sendgrid(
    runtime: Runtime, auth: tuple[str, str] | None = (USER, PASSWORD), path: str = "sendgrid"
) -> SendGridSimulator:
    return SendGridSimulator(f"{BASE}/mail/{path}", flask_send(runtime), basic_auth=auth)


def test_mailgun_mail_and_its_reply_form_one_thread_on_the_senders_contact(hub: Runtime) -> None:
    first = Email(
        message_id="<root-1@mail.example.com>", date=datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    )
    reply = Email(
        subject="Re: Where is my order?",
        text="Any news? Call me on +44 7700 900123",
        message_id="<reply-2@mail.example.com>",
        in_reply_to="<agent-1@acme.test>",
        references=("<root-1@mail.example.com>", "<agent-1@acme.test>"),
        date=datetime(2026, 11, 22, 11, 0, tzinfo=UTC),
    )
    assert mailgun(hub).forward(first).status == 200
    assert mailgun(hub).forward(reply).status == 200
    drain(hub)
    one, two = interactions(hub)
    assert (one.channel, one.summary, one.data["thread"]) == (
        "email",
        "Where is my order?",
        "root-1@mail.example.com",
    )
    assert (two.data["thread"], two.data["message_id"]) == (
        "root-1@mail.example.com",
        "reply-2@mail.example.com",
    )
    assert two.data["text"] == "Any news? Call me on ############"
    assert one.contact_id == two.contact_id
    assert contact(hub, one.contact_id).display_name == "Ada Lovelace"


def test_the_same_mail_delivered_twice_is_stored_once(hub: Runtime) -> None:
    mail = Email()
    assert mailgun(hub).forward(mail).status == 200
    again = mailgun(hub).forward(mail)  # a Mailgun retry: fresh token, same Message-ID
    assert again.status == 200
    assert b'"duplicates": 1' in again.body
    drain(hub)
    assert len(interactions(hub)) == 1


@pytest.mark.parametrize(
    ("label", "key", "skew"),
    [
        ("wrong key", "key-not-the-signing-key-000", timedelta(0)),
        ("stale", KEY, timedelta(minutes=-10)),
    ],
)
def test_mailgun_wrong_or_stale_signatures_are_refused(
    hub: Runtime, label: str, key: str, skew: timedelta
) -> None:
    answer = mailgun(hub, key).forward(Email(), at=datetime.now(UTC) + skew)
    assert answer.status == 401, label
    assert stored(hub) == 0


def test_a_replayed_mailgun_token_is_refused_even_with_another_mail(hub: Runtime) -> None:
    token = "t" * 50
    assert mailgun(hub).forward(Email(), token=token).status == 200
    replay = mailgun(hub).forward(
        Email(subject="forged", message_id="<forged@x.test>"), token=token
    )
    assert replay.status == 401
    drain(hub)
    assert [i.summary for i in interactions(hub)] == ["Where is my order?"]


def test_mailgun_attachments_are_described_never_stored(hub: Runtime) -> None:
    mail = Email(attachments=(("invoice.pdf", "application/pdf", b"%PDF-1.7 secret"),))
    assert mailgun(hub).forward(mail).status == 200
    drain(hub)
    [item] = interactions(hub)
    assert item.data["attachments"] == [
        {"filename": "invoice.pdf", "type": "application/pdf", "size": 15}
    ]


@pytest.mark.parametrize("raw", [False, True], ids=["parsed", "raw-mime"])
def test_sendgrid_parse_with_basic_auth_lands_on_the_sender(hub: Runtime, raw: bool) -> None:
    mail = Email(from_="Grace Hopper <Grace@Example.com>", references=("<r0@x.test>",))
    assert sendgrid(hub).parse(mail, raw=raw).status == 200
    drain(hub)
    [item] = interactions(hub)
    assert (item.channel, item.data["thread"]) == ("email", "r0@x.test")
    assert contact(hub, item.contact_id).display_name == "Grace Hopper"


def test_sendgrid_secret_url_token_admits_without_credentials(hub: Runtime) -> None:
    assert sendgrid(hub, auth=None, path=f"sendgrid/{URL_TOKEN}").parse(Email()).status == 200
    assert (
        sendgrid(hub, auth=None, path="sendgrid/wrong-token-0000000000").parse(Email()).status
        == 401
    )
    assert sendgrid(hub, auth=None).parse(Email()).status == 401


def test_sendgrid_wrong_credentials_are_refused(hub: Runtime) -> None:
    assert sendgrid(hub, auth=(USER, "not-the-password")).parse(Email()).status == 401
    assert stored(hub) == 0


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"garbage", "multipart/form-data; boundary=abc"),
        (
            b'--abc\r\nContent-Disposition: form-data; name="from"\r\n\r\nx',
            "multipart/form-data; boundary=abc",
        ),
        (b"from=a", "multipart/form-data"),
        (b'{"from": "a@b.c"}', "application/json"),
        multipart([("subject", "no sender")]),
    ],
    ids=["no-boundary-in-body", "unterminated", "no-boundary-param", "json", "no-sender"],
)
def test_authenticated_but_malformed_parse_posts_are_refused_with_400(
    hub: Runtime, body: bytes, content_type: str
) -> None:
    send = flask_send(hub)

    def replace(method: str, url: str, _body: bytes, headers: dict[str, str]) -> Any:
        return send(method, url, body, {**headers, "Content-Type": content_type})

    answer = SendGridSimulator(f"{BASE}/mail/sendgrid", replace, basic_auth=(USER, PASSWORD)).parse(
        Email()
    )
    assert answer.status == 400
    assert stored(hub) == 0
