"""send-links: each attendee's link, calendar and ticket by mail, through a real SMTP server on 127.0.0.1."""

from __future__ import annotations

import email
import io
import socket
import stat
from email import policy
from email.message import EmailMessage
from urllib.parse import urlsplit

import pytest
import zxingcpp
from aiosmtpd.controller import Controller
from click.testing import CliRunner
from PIL import Image

from server import attendees, tickets
from server.cli import cli
from tests.conftest import API, EVENT, bearer

PUBLIC = "https://ecc.example.eu"
SENDER = "ECC 2014 <registration@example.org>"
PEOPLE = [  # registered out of name order: mails go by name
    ("Cleo Example", "cleo@example.org"),
    ("Ada Example", "ada@example.org"),
    ("Bob Example", "bob@example.org"),
]
BY_NAME = ["ada@example.org", "bob@example.org", "cleo@example.org"]


class Mailbox:
    """An aiosmtpd handler: keeps every accepted message with its connection, refuses `refused`
    addresses with 550, and answers 421 to the next message when `drop_next` is set."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], bytes, object]] = []
        self.refused: set[str] = set()
        self.drop_next = False
        self.url = ""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refused:
            return f"550 5.1.1 <{address}>: mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.drop_next:
            self.drop_next = False
            return "421 4.3.2 service shutting down"
        self.received.append((list(envelope.rcpt_tos), envelope.content, session))
        return "250 Message accepted"

    @property
    def recipients(self) -> list[str]:
        return [address for rcpt_tos, _, _ in self.received for address in rcpt_tos]

    def messages(self) -> list[EmailMessage]:
        return [email.message_from_bytes(content, policy=policy.default) for _, content, _ in self.received]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def mailbox():
    handler = Mailbox()
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    handler.url = f"smtp://127.0.0.1:{port}"
    try:
        yield handler
    finally:
        controller.stop()


@pytest.fixture
def people(app, db) -> dict[str, dict]:
    """Three attendees of the built-in conference, by email; the test app writes the public URL too."""
    app.config["PUBLIC_URL"] = PUBLIC
    return {
        address: attendees.create_attendee(db, EVENT, {"name": name, "email": address, "category": "practitioner"})[0]
        for name, address in PEOPLE
    }


def send_links(app, *args: str, **env: str | None):
    """Run `eventdesk-server send-links --event ecc2014 ARGS` on the app's data, as an organiser would."""
    environment = {
        "EVENTDESK_DATA_DIR": app.config["DATA_DIR"],
        "EVENTDESK_PUBLIC_URL": PUBLIC,
        "EVENTDESK_SMTP_FROM": SENDER,
        **env,
    }
    return CliRunner().invoke(cli, ["send-links", "--event", EVENT, *args], env=environment, catch_exceptions=False)


def sent_to(db) -> dict[str, str | None]:
    """Each attendee's recorded address of the last mailing (None: not sent)."""
    rows = db.conn.execute(
        "SELECT a.email, CASE WHEN l.sent_at IS NULL THEN NULL ELSE l.sent_to END FROM attendees a "
        "LEFT JOIN attendee_links l ON l.attendee_pk = a.pk"
    )
    return dict(rows.fetchall())


def text_of(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def join_link(message: EmailMessage) -> str:
    return next(word for word in text_of(message).split() if "/join#" in word)


def ticket_image(message: EmailMessage) -> Image.Image:
    """The PNG the HTML part shows through its cid: reference."""
    html = message.get_body(preferencelist=("html",)).get_content()
    images = [part for part in message.walk() if part.get_content_type() == "image/png"]
    assert len(images) == 1
    assert f'src="cid:{images[0]["Content-ID"].strip("<>")}"' in html
    assert images[0].get_content_disposition() == "inline"
    return Image.open(io.BytesIO(images[0].get_content()))


def sign_in(client, link: str) -> dict:
    response = client.post(f"{API}/link-login", json={"secret": urlsplit(link).fragment, "device": "Phone"})
    assert response.status_code == 201, response.get_data(as_text=True)
    return bearer(response.get_json()["token"])


def test_send_links_mails_every_attendee_once_in_name_order_on_one_connection(app, db, people, mailbox):
    result = send_links(app, EVENTDESK_SMTP_URL=mailbox.url)

    assert result.exit_code == 0, result.output + result.stderr
    assert result.output.splitlines()[-1] == "sent 3, failed 0, skipped 0"
    assert mailbox.recipients == BY_NAME
    assert len({id(session) for _, _, session in mailbox.received}) == 1
    assert sent_to(db) == {address: address for address in BY_NAME}


def test_mail_signs_in_and_carries_the_calendar_and_the_ticket(app, client, people, mailbox):
    send_links(app, EVENTDESK_SMTP_URL=mailbox.url)

    for message, address in zip(mailbox.messages(), BY_NAME, strict=True):
        person = people[address]
        assert message["To"].addresses[0].addr_spec == address
        assert message["To"].addresses[0].display_name == person["name"]
        assert str(message["From"]) == SENDER
        assert message["Subject"] == "Your personal link for European Cluster Conference 2014"
        assert message.get_content_type() == "multipart/alternative"
        text = text_of(message)
        assert "personal" in text and f"Hello {person['name']}," in text
        headers = sign_in(client, join_link(message))
        assert client.get("/api/v1/me", headers=headers).get_json()["id"] == person["id"]
        ticket = client.get("/api/v1/me/ticket", headers=headers).get_json()
        assert [code.text for code in zxingcpp.read_barcodes(ticket_image(message))] == [ticket["payload"]]
        assert ticket["payload"] in text
        calendar = client.get("/api/v1/me/calendar", headers=headers).get_json()
        assert calendar["https"].startswith(f"{PUBLIC}/api/v1/calendars/")
        assert calendar["https"] in text and calendar["webcal"] in text


def test_mail_html_escapes_what_attendees_typed(app, db, people, mailbox):
    attendees.update_attendee(db, EVENT, people["ada@example.org"]["id"], {"name": 'Ada <b>"Bold"</b> & Co'})

    send_links(app, EVENTDESK_SMTP_URL=mailbox.url)

    message = mailbox.messages()[0]
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "Hello Ada &lt;b&gt;&quot;Bold&quot;&lt;/b&gt; &amp; Co," in html
    assert "<b>" not in html
    assert message["To"].addresses[0].display_name == 'Ada <b>"Bold"</b> & Co'


def test_only_unsent_second_run_sends_nothing(app, people, mailbox):
    send_links(app, EVENTDESK_SMTP_URL=mailbox.url)

    again = send_links(app, "--only-unsent", EVENTDESK_SMTP_URL=mailbox.url)

    assert again.exit_code == 0
    assert again.output.splitlines()[-1] == "sent 0, failed 0, skipped 3"
    assert mailbox.recipients == BY_NAME


def test_rotated_link_makes_that_attendee_unsent_again(app, client, admin, people, mailbox):
    send_links(app, EVENTDESK_SMTP_URL=mailbox.url)
    old_link = join_link(mailbox.messages()[1])
    bob = people["bob@example.org"]["id"]
    new_link = client.post(f"{API}/attendees/{bob}/link/rotate", headers=admin).get_json()["url"]

    again = send_links(app, "--only-unsent", EVENTDESK_SMTP_URL=mailbox.url)

    assert again.output.splitlines()[-1] == "sent 1, failed 0, skipped 2"
    assert mailbox.recipients == [*BY_NAME, "bob@example.org"]
    assert join_link(mailbox.messages()[-1]) == new_link != old_link


def test_a_changed_address_is_unsent_again(app, db, people, mailbox):
    send_links(app, EVENTDESK_SMTP_URL=mailbox.url)
    attendees.update_attendee(db, EVENT, people["ada@example.org"]["id"], {"email": "ada@new.example.org"})

    again = send_links(app, "--only-unsent", EVENTDESK_SMTP_URL=mailbox.url)

    assert again.output.splitlines()[-1] == "sent 1, failed 0, skipped 2"
    assert mailbox.recipients[-1] == "ada@new.example.org"


def test_refused_address_is_reported_and_sent_on_the_next_run(app, db, people, mailbox):
    mailbox.refused = {"bob@example.org"}

    result = send_links(app, EVENTDESK_SMTP_URL=mailbox.url)

    assert result.exit_code == 1
    assert "bob@example.org" in result.stderr and "550 5.1.1" in result.stderr
    assert result.output.splitlines()[-1] == "sent 2, failed 1, skipped 0"
    assert mailbox.recipients == ["ada@example.org", "cleo@example.org"]
    assert sent_to(db)["bob@example.org"] is None
    mailbox.refused = set()
    again = send_links(app, "--only-unsent", EVENTDESK_SMTP_URL=mailbox.url)
    assert again.exit_code == 0
    assert again.output.splitlines()[-1] == "sent 1, failed 0, skipped 2"
    assert mailbox.recipients[-1] == "bob@example.org"
    assert sent_to(db)["bob@example.org"] == "bob@example.org"


def test_a_dropped_connection_is_reopened_once_and_nothing_is_lost(app, people, mailbox):
    mailbox.drop_next = True

    result = send_links(app, EVENTDESK_SMTP_URL=mailbox.url)

    assert result.exit_code == 0, result.output + result.stderr
    assert mailbox.recipients == BY_NAME
    assert len({id(session) for _, _, session in mailbox.received}) == 1  # all on the second connection


def test_dry_run_writes_parseable_eml_files_and_records_nothing(app, db, people, mailbox, tmp_path):
    outbox = tmp_path / "outbox"

    result = send_links(app, "--dry-run", str(outbox), EVENTDESK_SMTP_URL=None, EVENTDESK_SMTP_FROM=None)

    assert result.exit_code == 0, result.output + result.stderr
    assert "EVENTDESK_SMTP_FROM is unset" in result.stderr
    files = sorted(outbox.iterdir())
    assert [path.name for path in files] == sorted(f"{person['id']}.eml" for person in people.values())
    for path in files:
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        person = next(p for p in people.values() if path.name == f"{p['id']}.eml")
        assert message["To"].addresses[0].addr_spec == person["email"]
        assert join_link(message).startswith(f"{PUBLIC}/e/{EVENT}/join#")
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert mailbox.received == []
    assert set(sent_to(db).values()) == {None}
    real = send_links(app, "--only-unsent", EVENTDESK_SMTP_URL=mailbox.url)
    assert real.output.splitlines()[-1] == "sent 3, failed 0, skipped 0"


@pytest.mark.parametrize(
    "url",
    [
        None,
        "",
        "mail.example.org",
        "http://mail.example.org",
        "smtp://",
        "smtp://mail.example.org:99999",
        "smtp://user@mail.example.org",
        "smtp://user:s3cret@mail.example.org?tls=1",
        "smtps://user:s3cret@mail.example.org?starttls=1",
    ],
)
def test_bad_smtp_url_names_the_variable_and_sends_nothing(app, db, people, url):
    result = send_links(app, EVENTDESK_SMTP_URL=url)

    assert result.exit_code == 1
    assert "EVENTDESK_SMTP_URL" in result.stderr
    assert "s3cret" not in result.output + result.stderr
    assert "Traceback" not in result.stderr
    assert set(sent_to(db).values()) == {None}


def test_unreachable_smtp_server_is_an_error_naming_the_variable(app, db, people):
    result = send_links(app, EVENTDESK_SMTP_URL=f"smtp://127.0.0.1:{_free_port()}")

    assert result.exit_code == 1
    assert "EVENTDESK_SMTP_URL" in result.stderr and "127.0.0.1" in result.stderr
    assert set(sent_to(db).values()) == {None}


@pytest.mark.parametrize(("variable", "value"), [("EVENTDESK_SMTP_FROM", None), ("EVENTDESK_SMTP_FROM", "nobody")])
def test_sending_needs_a_sender(app, db, people, mailbox, variable, value):
    result = send_links(app, EVENTDESK_SMTP_URL=mailbox.url, **{variable: value})

    assert result.exit_code == 1
    assert variable in result.stderr
    assert mailbox.received == []


def test_sending_needs_the_public_url(app, db, people, mailbox):
    result = send_links(app, EVENTDESK_SMTP_URL=mailbox.url, EVENTDESK_PUBLIC_URL=None)

    assert result.exit_code == 1
    assert "EVENTDESK_PUBLIC_URL" in result.stderr
    assert mailbox.received == []


def test_send_links_help_has_an_example(tmp_path):
    result = CliRunner().invoke(cli, ["send-links", "--help"], env={"EVENTDESK_DATA_DIR": str(tmp_path)})

    assert result.exit_code == 0
    assert "Example" in result.output and "EVENTDESK_SMTP_URL" in result.output


def test_unknown_event_is_an_error(app, mailbox, tmp_path):
    result = CliRunner().invoke(
        cli,
        ["send-links", "--event", "nope", "--dry-run", str(tmp_path / "out")],
        env={"EVENTDESK_DATA_DIR": app.config["DATA_DIR"]},
    )

    assert result.exit_code == 1
    assert "no event 'nope'" in result.stderr
    assert not (tmp_path / "out").exists()


def test_attendee_without_a_valid_ticket_still_gets_link_and_calendar(app, db, people, mailbox):
    tickets.revoke_tickets(db, attendees.pk_by_email(db, EVENT, "ada@example.org"))

    result = send_links(app, EVENTDESK_SMTP_URL=mailbox.url)

    assert result.exit_code == 0
    message = mailbox.messages()[0]
    assert [part for part in message.walk() if part.get_content_type() == "image/png"] == []
    assert "no valid ticket" in text_of(message)
    assert "/join#" in join_link(message)
