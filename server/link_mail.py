"""Mailing each attendee their personal link, calendar URL and ticket (`eventdesk-server send-links`).

Most of the 300 people of a conference will never type a token anywhere: a mail from the
organiser, opened on the phone they carry to the venue, is how they get in. So the message
holds all three things they need (the link that signs them in, the calendar to subscribe to,
the ticket QR for the door) and reads well in a text-only client as in an HTML one.

What is mailed is recorded per attendee only once the mail server accepted it, and forgotten
when the link rotates (personal_links), so `--only-unsent` can be run again after any failure
and sends nothing twice. Flask-free: the command gathers settings and hands them in.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, unquote, urlsplit

import sqlite_utils

from server import attendees, personal_links, tickets
from server.errors import DomainError, NotFound
from server.programme import get_event

if TYPE_CHECKING:
    import smtplib
    from email.message import EmailMessage

SMTP_URL = "EVENTDESK_SMTP_URL"
SMTP_FROM = "EVENTDESK_SMTP_FROM"
DRY_RUN_SENDER = "Eventdesk <eventdesk@localhost>"
SMTP_URL_EXAMPLE = "smtp://user:password@mail.example.org:587?starttls=1"
SERVICE_CLOSING = 421  # the server is going away: reconnect and try the message again


class MailSettingsError(DomainError):
    """EVENTDESK_SMTP_URL or EVENTDESK_SMTP_FROM cannot be used; nothing was sent."""

    code = "mail_settings"


class MailServerUnavailable(DomainError):
    """The mail server cannot be reached, or refuses us altogether (not one message)."""

    code = "mail_server_unavailable"


class MessageRefused(Exception):
    """The mail server refused one message (an address, the sender, the content); the run goes on."""

    def __init__(self, address: str, reason: str) -> None:
        super().__init__(f"{address}: {reason}")
        self.address = address
        self.reason = reason


# --- what one message says ------------------------------------------------------------------


@dataclass(frozen=True)
class LinkMail:
    """Everything one attendee's message says, gathered first so that building it needs no database."""

    attendee_pk: int
    attendee_id: str
    name: str
    email: str
    event_title: str
    event_when: str  # "20–21 October 2014, Brussels"
    organiser: str
    join_url: str
    calendar_https: str
    calendar_webcal: str
    ticket_payload: str | None  # None: the attendee holds no valid ticket now


def link_mails(
    db: sqlite_utils.Database,
    secret: bytes,
    base_url: str,
    event_slug: str,
    keys_dir: str | Path,
    *,
    only_unsent: bool = False,
) -> tuple[list[LinkMail], int]:
    """The messages to send for the event's attendees, by name, and how many were skipped.

    With `only_unsent`, an attendee is skipped when their current link was already sent to
    their current address: a rotated link, or a changed address, makes them due again.
    """
    event = get_event(db, event_slug)
    rows = db.conn.execute(
        "SELECT pk, id, name, email FROM attendees WHERE event_id = ? ORDER BY name, email", (event["id"],)
    ).fetchall()
    when = ", ".join(part for part in (_date_range(event["start_date"], event["end_date"]), event["city"]) if part)
    feed_name = attendees.feed_name(event["title"])
    mails, skipped = [], 0
    for pk, attendee_id, name, email in rows:
        link_secret = personal_links.current_link_secret(db, secret, pk)
        if only_unsent and _sent_to(db, pk) == email:
            skipped += 1
            continue
        calendar = attendees.feed_subscription(base_url, attendees.current_feed_token(db, secret, pk), feed_name)
        mails.append(
            LinkMail(
                attendee_pk=pk,
                attendee_id=attendee_id,
                name=name,
                email=email,
                event_title=_short_title(event["title"]),
                event_when=when,
                organiser=event["organiser"],
                join_url=personal_links.join_url(base_url, event_slug, link_secret),
                calendar_https=calendar["https"],
                calendar_webcal=calendar["webcal"],
                ticket_payload=_ticket_payload(db, event, pk, Path(keys_dir)),
            )
        )
    return mails, skipped


def _short_title(title: str) -> str:
    """The title without its subtitle: "European Cluster Conference 2014 — Boosting SME growth, ..."
    is a long subject line, and phones show the first forty characters or so."""
    return title.split(" — ", 1)[0].strip() or title


def _sent_to(db: sqlite_utils.Database, attendee_pk: int) -> str | None:
    row = db.conn.execute(
        "SELECT sent_to FROM attendee_links WHERE attendee_pk = ? AND sent_at IS NOT NULL", (attendee_pk,)
    ).fetchone()
    return row[0] if row else None


def _ticket_payload(db: sqlite_utils.Database, event: dict, attendee_pk: int, keys_dir: Path) -> str | None:
    try:
        serial = tickets.current_serial(db, attendee_pk)
    except NotFound:  # revoked and not re-issued: the link and calendar are still worth sending
        return None
    return tickets.payload(db, event, serial, keys_dir)


def _date_range(start: str, end: str) -> str:
    """ "20–21 October 2014", "30 September – 1 October 2014", or one day, written out in English."""
    first, last = date.fromisoformat(start), date.fromisoformat(end)
    if first == last:
        return f"{first.day} {first:%B %Y}"
    if (first.year, first.month) == (last.year, last.month):
        return f"{first.day}–{last.day} {last:%B %Y}"
    if first.year == last.year:
        return f"{first.day} {first:%B} – {last.day} {last:%B %Y}"
    return f"{first.day} {first:%B %Y} – {last.day} {last:%B %Y}"


def sender_address(value: str | None, *, required: bool) -> str:
    """EVENTDESK_SMTP_FROM as a From header ("Name <address>"), or MailSettingsError saying what is wrong.

    A dry run may go without one (its files say DRY_RUN_SENDER); a real one may not, since a
    made-up sender is what spam filters reject.
    """
    from email.headerregistry import Address
    from email.utils import parseaddr

    example = "e.g. 'ECC 2014 <registration@example.org>'"
    if not value or not value.strip():
        if required:
            raise MailSettingsError(
                f"set {SMTP_FROM} to the sender of the mails, {example}", fields={SMTP_FROM: "unset"}
            )
        return DRY_RUN_SENDER
    name, address = parseaddr(value.strip())
    try:
        if "@" not in address:
            raise ValueError("no address")
        return str(Address(display_name=name, addr_spec=address))
    except (ValueError, IndexError):
        raise MailSettingsError(
            f"{SMTP_FROM}={value!r} is not a mail address, {example}", fields={SMTP_FROM: "not an address"}
        ) from None


def build_message(mail: LinkMail, sender: str) -> EmailMessage:
    """One attendee's message: plain text and HTML alternatives, the ticket QR inline in the HTML.

    Every value in the HTML is escaped: names and titles come from registrations and
    programme files, which anyone may have typed. Raises ValueError for an address the mail
    library cannot write.
    """
    from email.headerregistry import Address
    from email.message import EmailMessage
    from email.utils import formatdate, make_msgid

    from server.qr import qr_png

    domain = sender.rpartition("@")[2].rstrip(">") or "localhost"
    message = EmailMessage()
    message["Subject"] = f"Your personal link for {mail.event_title}"
    message["From"] = sender
    message["To"] = Address(display_name=mail.name, addr_spec=mail.email)
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid("send-links", domain=domain)
    message.set_content(_text(mail))
    image_id = make_msgid("ticket", domain=domain) if mail.ticket_payload else None
    message.add_alternative(_html(mail, image_id), subtype="html")
    if mail.ticket_payload and image_id:
        html_part = message.get_payload()[1]
        html_part.add_related(
            qr_png(mail.ticket_payload), "image", "png", cid=image_id, disposition="inline", filename="ticket.png"
        )
    return message


def _text(mail: LinkMail) -> str:
    ticket = (
        "Your ticket\n"
        "Show its QR code (in this mail, and on your personal page) at the entrance.\n"
        f"If the image does not show, this is the code it holds:\n{mail.ticket_payload}\n"
        if mail.ticket_payload
        else "Your ticket\nYou have no valid ticket at the moment; the organisers will send you a new one.\n"
    )
    return (
        f"Hello {mail.name},\n\n"
        f"Here is your personal link for {mail.event_title} ({mail.event_when}):\n\n"
        f"{mail.join_url}\n\n"
        "Open it on your phone: the programme, your own schedule, your calendar and your ticket,\n"
        "also without a network at the venue. The link is personal: it signs you in, so please\n"
        "keep it to yourself.\n\n"
        "Your calendar\n"
        "Subscribe once, and every programme change reaches your calendar by itself:\n"
        f"{mail.calendar_webcal}\n"
        f"or add this address to your calendar app: {mail.calendar_https}\n\n"
        f"{ticket}\n"
        f"See you there,\n{mail.organiser or 'The organisers'}\n"
    )


def _html(mail: LinkMail, image_id: str | None) -> str:
    from html import escape

    if mail.ticket_payload and image_id:
        ticket = (
            "<p>Show this QR code at the entrance (it is on your personal page too):</p>\n"
            f'<p><img src="cid:{escape(image_id[1:-1])}" alt="Your ticket QR code" width="300" height="300"></p>\n'
            "<p>If the image does not show, this is the code it holds:<br>"
            f"<code>{escape(mail.ticket_payload)}</code></p>"
        )
    else:
        ticket = "<p>You have no valid ticket at the moment; the organisers will send you a new one.</p>"
    return f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>{escape(mail.event_title)}</title></head>
<body>
<p>Hello {escape(mail.name)},</p>
<p>Here is your personal link for {escape(mail.event_title)} ({escape(mail.event_when)}):</p>
<p><a href="{escape(mail.join_url)}">{escape(mail.join_url)}</a></p>
<p>Open it on your phone: the programme, your own schedule, your calendar and your ticket, also without
a network at the venue. <strong>The link is personal</strong>: it signs you in, so please keep it to yourself.</p>
<h2>Your calendar</h2>
<p>Subscribe once, and every programme change reaches your calendar by itself:
<a href="{escape(mail.calendar_webcal)}">subscribe</a>, or add this address to your calendar app:<br>
<code>{escape(mail.calendar_https)}</code></p>
<h2>Your ticket</h2>
{ticket}
<p>See you there,<br>{escape(mail.organiser or "The organisers")}</p>
</body>
</html>
"""


# --- where messages go ----------------------------------------------------------------------


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to connect, from EVENTDESK_SMTP_URL."""

    host: str
    port: int
    implicit_tls: bool = False
    starttls: bool = False
    user: str | None = None
    password: str | None = None

    @property
    def where(self) -> str:
        """The server as messages name it: never with the password."""
        scheme = "smtps" if self.implicit_tls else "smtp"
        user = f"{self.user}@" if self.user else ""
        return f"{scheme}://{user}{self.host}:{self.port}"


_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


def smtp_settings(value: str | None) -> SmtpSettings:
    """EVENTDESK_SMTP_URL read, or MailSettingsError naming it (the password never echoed).

    `smtp://[user:password@]host[:port][?starttls=1]` (port 25, or 587 with STARTTLS) or
    `smtps://...` (TLS from the start, port 465). STARTTLS is asked for, never guessed: a
    server that stops offering it must make the run fail, not send passwords in clear.
    """

    def refuse(problem: str) -> MailSettingsError:
        return MailSettingsError(
            f"{SMTP_URL} {problem}, e.g. {SMTP_URL_EXAMPLE} or smtps://mail.example.org", fields={SMTP_URL: problem}
        )

    if not value or not value.strip():
        raise refuse("is not set (give the mail server, or use --dry-run DIR)")
    try:
        parts = urlsplit(value.strip())
        port = parts.port
        options = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise refuse("is not a URL with a valid port") from None
    if parts.scheme not in ("smtp", "smtps"):
        raise refuse("must start with smtp:// or smtps://")
    if not parts.hostname:
        raise refuse("must name the mail server's host")
    if parts.path not in ("", "/") or parts.fragment:
        raise refuse("must not have a path or a fragment")
    starttls = False
    for key, flag in options:
        if key != "starttls" or flag.lower() not in _TRUE | _FALSE:
            raise refuse("takes only the option ?starttls=1")
        starttls = flag.lower() in _TRUE
    if starttls and parts.scheme == "smtps":
        raise refuse("uses TLS from the start with smtps://; starttls=1 is for smtp://")
    if (parts.username is None) != (parts.password is None):
        raise refuse("needs both a user and a password, or neither (user:password@host)")
    default_port = 465 if parts.scheme == "smtps" else 587 if starttls else 25
    return SmtpSettings(
        host=parts.hostname,
        port=port or default_port,
        implicit_tls=parts.scheme == "smtps",
        starttls=starttls,
        user=unquote(parts.username) if parts.username is not None else None,
        password=unquote(parts.password) if parts.password is not None else None,
    )


class SmtpTransport:
    """One SMTP connection for the whole run, opened at the first message (an all-sent run
    connects to nothing). If the server drops it, one reconnect for that message."""

    records = True  # an accepted message is recorded as sent

    def __init__(self, settings: SmtpSettings, *, timeout: float = 30.0) -> None:
        self.settings = settings
        self.timeout = timeout
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> SmtpTransport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _connect(self) -> smtplib.SMTP:
        import smtplib
        import ssl

        settings = self.settings
        smtp = None
        try:
            if settings.implicit_tls:
                smtp = smtplib.SMTP_SSL(
                    settings.host, settings.port, timeout=self.timeout, context=ssl.create_default_context()
                )
            else:
                smtp = smtplib.SMTP(settings.host, settings.port, timeout=self.timeout)
            smtp.ehlo_or_helo_if_needed()
            if settings.starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if settings.user is not None:
                smtp.login(settings.user, settings.password or "")
        except smtplib.SMTPAuthenticationError as problem:
            _close_quietly(smtp)
            raise MailServerUnavailable(
                f"the mail server {settings.where} refused the user and password of {SMTP_URL}: "
                f"{problem.smtp_code} {_text_of(problem.smtp_error)}",
                fields={SMTP_URL: "login refused"},
            ) from None
        except (OSError, smtplib.SMTPException) as problem:
            _close_quietly(smtp)
            raise MailServerUnavailable(
                f"cannot use the mail server {settings.where} ({SMTP_URL}): {problem}",
                fields={SMTP_URL: "mail server unavailable"},
            ) from None
        return smtp

    def send(self, mail: LinkMail, message: EmailMessage) -> None:
        """Hand `message` to the server; MessageRefused if it refuses this one, MailServerUnavailable
        if it cannot be reached even after one reconnect."""
        import smtplib

        for attempt in (1, 2):
            if self._smtp is None:
                self._smtp = self._connect()
            try:
                refused = self._smtp.send_message(message)
            except (smtplib.SMTPServerDisconnected, ConnectionError, TimeoutError) as problem:
                dropped = problem
            except smtplib.SMTPRecipientsRefused as problem:
                reasons = problem.recipients.values()
                if any(code == SERVICE_CLOSING for code, _ in reasons):
                    dropped = problem
                else:
                    raise MessageRefused(
                        mail.email, "; ".join(f"{code} {_text_of(text)}" for code, text in reasons)
                    ) from None
            except smtplib.SMTPResponseException as problem:  # the sender or the content refused
                if problem.smtp_code == SERVICE_CLOSING:
                    dropped = problem
                else:
                    raise MessageRefused(mail.email, f"{problem.smtp_code} {_text_of(problem.smtp_error)}") from None
            except smtplib.SMTPNotSupportedError as problem:  # e.g. an address that needs SMTPUTF8
                raise MessageRefused(mail.email, str(problem)) from None
            else:
                if refused:  # some recipients refused: with one recipient, not reached; kept for safety
                    raise MessageRefused(mail.email, "; ".join(f"{c} {_text_of(t)}" for c, t in refused.values()))
                return
            _close_quietly(self._smtp)
            self._smtp = None
            if attempt == 2:
                raise MailServerUnavailable(
                    f"the mail server {self.settings.where} dropped the connection again: {dropped}",
                    fields={SMTP_URL: "connection lost"},
                )

    def close(self) -> None:
        import smtplib

        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (OSError, smtplib.SMTPException):
                self._smtp.close()
            self._smtp = None


class EmlDirectory:
    """`--dry-run DIR`: each message as DIR/<attendee id>.eml, mode 0600 (it holds a personal link)."""

    records = False  # nothing was sent, so nothing is recorded

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def __enter__(self) -> EmlDirectory:
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as problem:
            raise MailSettingsError(
                f"cannot make {self.directory}: {problem.strerror}", fields={"--dry-run": str(self.directory)}
            ) from None
        return self

    def __exit__(self, *exc_info: object) -> None:
        from server.private_files import sync_dir

        sync_dir(self.directory)

    def path_for(self, mail: LinkMail) -> Path:
        """A file name from the attendee id alone: ids are `a-` and base32, but a name never is safe."""
        return self.directory / (re.sub(r"[^A-Za-z0-9_-]", "_", mail.attendee_id) + ".eml")

    def send(self, mail: LinkMail, message: EmailMessage) -> None:
        from email import policy

        descriptor = os.open(self.path_for(mail), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(message.as_bytes(policy=policy.SMTP))  # CRLF lines, as mail files are


def _text_of(reason: bytes | str) -> str:
    return reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)


def _close_quietly(smtp: smtplib.SMTP | None) -> None:
    if smtp is not None:
        with contextlib.suppress(OSError):
            smtp.close()


# --- the run --------------------------------------------------------------------------------


@dataclass
class Outcome:
    sent: int = 0
    failed: int = 0
    skipped: int = 0


def send_link_mails(
    db: sqlite_utils.Database,
    mails: Sequence[LinkMail],
    sender: str,
    transport: SmtpTransport | EmlDirectory,
    *,
    on_sent: Callable[[LinkMail], None] = lambda mail: None,
    on_failed: Callable[[LinkMail, str], None] = lambda mail, reason: None,
) -> Outcome:
    """Send each message; record each right after the server accepted it (if the transport sends).

    A refused message is reported through `on_failed` and the others go on. Losing the server
    altogether stops the run with MailServerUnavailable saying how far it got: what was sent is
    recorded, so `--only-unsent` resumes where it stopped.
    """
    outcome = Outcome()
    for mail in mails:
        try:
            transport.send(mail, build_message(mail, sender))
        except MessageRefused as refusal:
            outcome.failed += 1
            on_failed(mail, refusal.reason)
            continue
        except ValueError as problem:  # an address or name the mail library cannot write
            outcome.failed += 1
            on_failed(mail, f"cannot write a mail to this address: {problem}")
            continue
        except MailServerUnavailable as problem:
            left = len(mails) - outcome.sent - outcome.failed
            raise MailServerUnavailable(
                f"{problem.message}. Sent {outcome.sent}, failed {outcome.failed}, not tried {left}: "
                "run again with --only-unsent to send the rest",
                fields=problem.fields,
            ) from None
        if transport.records:
            personal_links.mark_sent(db, mail.attendee_pk, mail.email)
        outcome.sent += 1
        on_sent(mail)
    return outcome
