"""Outgoing mail: .eml files when no SMTP server is configured, SMTP (with a tiny local
server, and STARTTLS/login order with a stand-in), and the LMS_SMTP_URL parser."""

from __future__ import annotations

import base64
import os
import socketserver
import stat
import threading
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from lms.services import mail


class _SmtpHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP for smtplib: EHLO, AUTH PLAIN, MAIL, RCPT, DATA, QUIT."""

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        self.reply("220 test ESMTP")
        data: list[bytes] | None = None
        while line := self.rfile.readline():
            if data is not None:
                if line == b".\r\n":
                    self.server.messages.append(b"".join(data))  # type: ignore[attr-defined]
                    data = None
                    self.reply("250 queued")
                else:
                    data.append(line[1:] if line.startswith(b"..") else line)
                continue
            command = line.decode().strip()
            verb = command.split(" ", 1)[0].upper()
            if verb == "EHLO":
                self.wfile.write(b"250-test\r\n250 AUTH PLAIN\r\n")
            elif verb == "AUTH":
                self.server.logins.append(command)  # type: ignore[attr-defined]
                self.reply("235 ok")
            elif verb in ("MAIL", "RCPT", "RSET", "NOOP", "HELO"):
                self.server.envelope.append(command)  # type: ignore[attr-defined]
                self.reply("250 ok")
            elif verb == "DATA":
                data = []
                self.reply("354 go on")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("502 no")


@pytest.fixture
def smtp_server():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SmtpHandler)
    server.daemon_threads = True
    server.messages, server.logins, server.envelope = [], [], []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_without_smtp_messages_are_files_only_the_owner_reads(app, tmp_path):
    app.config["MAIL_DIR"] = str(tmp_path / "mail")
    with app.app_context():
        path = mail.send("kim@example.com", "Hello 碁", "Line one\nhttp://localhost/reset/x\n")
    assert path.parent == tmp_path / "mail" and path.suffix == ".eml"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert (message["To"], message["Subject"]) == ("kim@example.com", "Hello 碁")
    assert message["From"] == "创新学院 <noreply@localhost>"  # the site's name, by default
    assert message.get_content() == "Line one\nhttp://localhost/reset/x\n"
    assert not list(path.parent.glob("*.part"))


def test_the_sender_is_the_site_in_the_recipients_language_unless_configured(app):
    app.config["MAIL_BACKEND"] = "memory"
    with app.app_context():
        mail.send("kim@example.com", "Hi", "Text\n", locale="en")
        mail.send("li@example.com", "你好", "正文\n", locale="zh_CN")
        app.config["SITE_NAME"] = {"zh_CN": "园区创新学院", "en": "Park Academy"}
        mail.send("kim@example.com", "Hi", "Text\n", locale="en")
        mail.send("li@example.com", "你好", "正文\n")  # the default language
        app.config["MAIL_FROM"] = "Academy <lms@academy.example>"
        mail.send("kim@example.com", "Hi", "Text\n", locale="en")
        senders = [message["From"] for message in mail.outbox()]
    assert senders == [
        "Innovation Academy <noreply@localhost>",
        "创新学院 <noreply@localhost>",
        "Park Academy <noreply@localhost>",
        "园区创新学院 <noreply@localhost>",
        "Academy <lms@academy.example>",
    ]
    raw = mail.build_message  # the non-ASCII name is encoded for the wire (RFC 2047)
    with app.app_context():
        app.config["MAIL_FROM"] = None
        wire = raw("li@example.com", "你好", "正文\n").as_bytes()
    assert b"From: =?utf-8?" in wire and "创新学院".encode() not in wire.split(b"\n\n")[0]


def test_the_default_folder_is_instance_mail(app):
    with app.app_context():
        assert mail.mail_dir() == Path(app.instance_path) / "mail"


def test_header_injection_is_refused(app, tmp_path):
    app.config["MAIL_DIR"] = str(tmp_path)
    with app.app_context(), pytest.raises(ValueError):
        mail.send("kim@example.com\r\nBcc: everyone@example.com", "Hi", "body")
    assert not list(tmp_path.glob("*.eml"))


def test_messages_go_through_smtp_when_configured(app, smtp_server):
    port = smtp_server.server_address[1]
    app.config["SMTP_URL"] = f"smtp://camp%40lms:p%40ss@127.0.0.1:{port}"
    app.config["MAIL_FROM"] = "Academy <lms@academy.example>"
    with app.app_context():
        assert mail.send("kim@example.com", "Subject", ".leading dot\nsecond\n") is None
    (raw,) = smtp_server.messages
    message = message_from_bytes(raw.replace(b"\r\n", b"\n"), policy=policy.default)
    assert message["From"] == "Academy <lms@academy.example>"
    assert message.get_content() == ".leading dot\nsecond\n"  # the dot survived
    assert any("kim@example.com" in line for line in smtp_server.envelope)
    (login,) = smtp_server.logins
    assert base64.b64decode(login.split()[-1]) == b"\0camp@lms\0p@ss"


def test_an_unreachable_server_raises_for_the_job_runner_to_log(app, smtp_server):
    port = smtp_server.server_address[1]
    smtp_server.shutdown()
    smtp_server.server_close()
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{port}?timeout=2"
    with app.app_context(), pytest.raises(OSError):
        mail.send("kim@example.com", "Subject", "body")


def test_starttls_comes_before_the_login(app, monkeypatch):
    calls: list[tuple] = []

    class FakeSMTP:
        def __init__(self, host, port, timeout):
            calls.append(("connect", host, port, timeout))

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            calls.append(("quit",))

        def starttls(self, context):
            calls.append(("starttls", context.check_hostname))

        def login(self, user, password):
            calls.append(("login", user, password))

        def send_message(self, message):
            calls.append(("send", message["To"]))

    monkeypatch.setattr(mail.smtplib, "SMTP", FakeSMTP)
    app.config["SMTP_URL"] = "smtp://user:secret@mail.example.org?starttls=1"
    with app.app_context():
        mail.send("kim@example.com", "Subject", "body")
    assert calls == [
        ("connect", "mail.example.org", 587, 10.0),
        ("starttls", True),
        ("login", "user", "secret"),
        ("send", "kim@example.com"),
        ("quit",),
    ]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://relay", ("relay", 25, None, None, False, False, 10.0)),
        ("smtp://u:p@relay:2525?starttls=1", ("relay", 2525, "u", "p", False, True, 10.0)),
        ("smtp://u:p@relay?starttls=true", ("relay", 587, "u", "p", False, True, 10.0)),
        ("smtps://a%20b:c%2Fd@relay", ("relay", 465, "a b", "c/d", True, False, 10.0)),
        ("smtp://relay?timeout=30", ("relay", 25, None, None, False, False, 30.0)),
    ],
)
def test_smtp_urls_are_understood(url, expected):
    settings = mail.parse_smtp_url(url)
    assert (
        settings.host,
        settings.port,
        settings.username,
        settings.password,
        settings.tls,
        settings.starttls,
        settings.timeout,
    ) == expected


@pytest.mark.parametrize(
    "url",
    [
        "http://relay",
        "smtp://",
        "smtps://relay?starttls=1",
        "smtp://relay:notaport",
        "smtp://relay?timeout=never",
        "smtp://relay?timeout=0",
    ],
)
def test_bad_smtp_urls_say_why(url):
    with pytest.raises(mail.MailConfigError, match="LMS_SMTP_URL"):
        mail.parse_smtp_url(url)
