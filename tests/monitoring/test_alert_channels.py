"""Alert channels against real peers on 127.0.0.1: an HTTP server, an SMTP server, a file."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from headway.errors import ConfigError, InvalidArgumentError
from headway.monitoring.alerts import (
    AlertEvent,
    AlertRule,
    AlertState,
    WindowObservation,
    evaluate,
)
from headway.monitoring.channels import (
    AlertDispatcher,
    Channel,
    DeliveryFailure,
    EmailChannel,
    LogFileChannel,
    SlackChannel,
    WebhookChannel,
    channels_from_file,
    channels_from_toml,
    deliver,
)

HOUR = 3_600_000
RUNBOOK = "Check the upstream pipeline first. Mitigate: `headway deploy rollback`."


def events_for(
    rule: AlertRule, values: list[Any], details: dict[str, Any] | None = None
) -> list[AlertEvent]:
    state, out = AlertState(), []
    for i, value in enumerate(values):
        obs = WindowObservation(
            "churn", i * HOUR, (i + 1) * HOUR, {rule.check: value}, details or {}
        )
        state, events = evaluate([rule], state, obs)
        out += events
    return out


RULE = AlertRule(
    "error-rate", "ops.error_rate", "above", 0.05, severity="critical", runbook=RUNBOOK
)
FIRING, RESOLVED = events_for(RULE, [0.07, 0.01], {"requests": 1200})


# -- real peers ----------------------------------------------------------------------


class Hook:
    """An HTTP server on 127.0.0.1 that records JSON posts; the first ``fail`` answer 500."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, str], Any]] = []
        self.fail = 0
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.posts.append((self.path, dict(self.headers), json.loads(body)))
                status = 500 if hook.fail > 0 else 200
                hook.fail -= 1
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook() -> Iterator[Hook]:
    server = Hook()
    yield server
    server.close()


class Mailbox:
    """aiosmtpd handler keeping each received message."""

    def __init__(self) -> None:
        self.messages: list[tuple[Envelope, EmailMessage]] = []

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append((envelope, message))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _authenticate(
    server: SMTPServer, session: Session, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"bot", b"s3cret")
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    port = _free_port()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=_authenticate,
        auth_require_tls=False,
    )
    controller.start()
    yield mailbox, port
    controller.stop()


# -- one contract, every channel -----------------------------------------------------


@pytest.fixture(params=["log", "webhook", "slack", "email"])
def any_channel(
    request: pytest.FixtureRequest, tmp_path: Path, hook: Hook, smtp: tuple[Mailbox, int]
) -> tuple[Channel, Any]:
    """A channel of each kind, and a function returning what its peer received as text."""
    mailbox, port = smtp
    if request.param == "log":
        path = tmp_path / "alerts.jsonl"
        return LogFileChannel(path), lambda: path.read_text()
    if request.param == "webhook":
        return WebhookChannel(hook.url), lambda: json.dumps([p[2] for p in hook.posts])
    if request.param == "slack":
        return SlackChannel(hook.url), lambda: json.dumps([p[2] for p in hook.posts])
    channel = EmailChannel("127.0.0.1", port, "headway@example.com", ["oncall@example.com"])
    return channel, lambda: "".join(m.get_content() for _, m in mailbox.messages)


def test_every_channel_delivers_the_summary_the_runbook_and_the_alert_id(
    any_channel: tuple[Channel, Any],
) -> None:
    channel, received = any_channel
    assert isinstance(channel, Channel)
    channel.send(FIRING)
    text = received()
    assert FIRING.alert.id in text
    assert "error-rate" in text and "critical" in text
    assert "headway deploy rollback" in text


# -- each channel's format -----------------------------------------------------------


def test_log_file_appends_one_json_event_per_line(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "alerts.jsonl"
    channel = LogFileChannel(path)
    channel.send(FIRING)
    channel.send(RESOLVED)
    lines = path.read_text().splitlines()
    assert [AlertEvent.from_dict(json.loads(line)) for line in lines] == [FIRING, RESOLVED]


def test_webhook_posts_the_event_as_json_with_headers(hook: Hook) -> None:
    WebhookChannel(hook.url + "/alerts", headers={"Authorization": "Bearer t0k"}).send(FIRING)
    [(path, headers, body)] = hook.posts
    assert path == "/alerts"
    assert headers["Content-Type"] == "application/json"
    assert headers["Authorization"] == "Bearer t0k"
    assert body == json.loads(json.dumps(FIRING.to_dict()))
    assert body["kind"] == "firing" and body["alert"]["values"] == {"churn": 0.07}
    assert body["details"] == {"requests": 1200}


def test_slack_posts_text_and_blocks_with_severity_summary_and_runbook(hook: Hook) -> None:
    SlackChannel(hook.url).send(FIRING)
    SlackChannel(hook.url).send(RESOLVED)
    (_, _, firing), (_, _, resolved) = hook.posts
    assert firing["text"] == f"[CRITICAL] FIRING: {FIRING.alert.summary}"
    blocks = firing["blocks"]
    assert blocks[0]["type"] == "header"
    assert blocks[1]["text"]["text"] == FIRING.alert.summary
    assert "*Severity*\ncritical" in [f["text"] for f in blocks[2]["fields"]]
    assert blocks[3]["text"]["text"] == f"*Runbook*\n{RUNBOOK}"
    assert FIRING.alert.id in blocks[-1]["elements"][0]["text"]
    assert resolved["text"].startswith("[CRITICAL] RESOLVED:")
    assert not any("Runbook" in json.dumps(block) for block in resolved["blocks"])


def test_slack_clips_a_long_runbook_to_what_slack_accepts(hook: Hook) -> None:
    rule = AlertRule("r", "x", "above", 0.0, runbook="x" * 5000)
    [firing] = events_for(rule, [1.0])
    SlackChannel(hook.url).send(firing)
    [(_, _, body)] = hook.posts
    assert len(body["blocks"][3]["text"]["text"]) == 3000


def test_email_is_sent_over_smtp_with_login(smtp: tuple[Mailbox, int]) -> None:
    mailbox, port = smtp
    channel = EmailChannel(
        "127.0.0.1",
        port,
        "headway@example.com",
        ["oncall@example.com", "ml@example.com"],
        username="bot",
        password="s3cret",
    )
    channel.send(FIRING)
    [(envelope, message)] = mailbox.messages
    assert envelope.rcpt_tos == ["oncall@example.com", "ml@example.com"]
    assert message["Subject"] == f"[CRITICAL] FIRING: {FIRING.alert.summary}"
    assert message["X-Headway-Alert"] == FIRING.alert.id
    body = message.get_content()
    assert "Runbook" in body and RUNBOOK in body and '"requests": 1200' in body


def test_email_with_a_wrong_password_fails(smtp: tuple[Mailbox, int]) -> None:
    _, port = smtp
    channel = EmailChannel(
        "127.0.0.1", port, "h@example.com", ["o@example.com"], username="bot", password="no"
    )
    failures = deliver([FIRING], {"mail": channel}, attempts=1)
    assert failures[0].channel == "mail" and "SMTPAuthenticationError" in failures[0].error


def test_channels_refuse_bad_arguments() -> None:
    with pytest.raises(InvalidArgumentError, match="url must be an http:// or https:// URL"):
        WebhookChannel("file:///etc/passwd")
    with pytest.raises(InvalidArgumentError, match="recipients must be a non-empty list"):
        EmailChannel("localhost", 25, "a@example.com", "b@example.com")
    assert "secret" not in repr(SlackChannel("https://hooks.example.com/T0/secret"))


# -- delivery ------------------------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.events: list[AlertEvent] = []

    def send(self, event: AlertEvent) -> None:
        self.events.append(event)


def test_deliver_retries_with_backoff_until_the_server_answers(hook: Hook) -> None:
    hook.fail = 2
    waits: list[float] = []
    failures = deliver(
        [FIRING], {"hook": WebhookChannel(hook.url)}, attempts=3, backoff=0.5, sleep=waits.append
    )
    assert failures == []
    assert len(hook.posts) == 3 and waits == [0.5, 1.0]


def test_deliver_logs_and_returns_failures_instead_of_raising(
    hook: Hook, caplog: pytest.LogCaptureFixture
) -> None:
    hook.fail = 10
    with caplog.at_level(logging.WARNING, logger="headway.monitoring"):
        failures = deliver(
            [FIRING], {"hook": WebhookChannel(hook.url)}, attempts=3, sleep=lambda s: None
        )
    [failure] = failures
    assert (
        failure == DeliveryFailure(FIRING.alert.id, "firing", "hook", 3, failure.error)
        and "HTTP Error 500" in failure.error
    )
    assert len(hook.posts) == 3
    assert "was not delivered to channel hook after 3 attempts" in caplog.text


def test_deliver_survives_an_unreachable_server() -> None:
    channel = WebhookChannel(f"http://127.0.0.1:{_free_port()}", timeout=1)
    [failure] = deliver([FIRING], {"down": channel}, attempts=2, backoff=0.01)
    assert failure.attempts == 2 and "URLError" in failure.error


def test_deliver_routes_to_the_rules_channels_or_to_all() -> None:
    a, b = Recorder(), Recorder()
    routed = events_for(AlertRule("r", "x", "above", 0, channels=("a", "nowhere")), [1.0, 0.0])
    failures = deliver(routed, {"a": a, "b": b})
    assert [e.kind for e in a.events] == ["firing", "resolved"] and b.events == []
    assert [f.channel for f in failures] == ["nowhere", "nowhere"]
    assert "no channel named 'nowhere'" in failures[0].error

    deliver([FIRING], {"a": a, "b": b})
    assert a.events[-1] == FIRING and b.events == [FIRING]
    [nowhere] = deliver([FIRING], {})
    assert "no channel is configured" in nowhere.error


def test_deliver_skips_events_that_do_not_notify() -> None:
    rule = AlertRule("drift", "drift.feature", "flagged", group=True)
    events = events_for(rule, [{"age": True}, {"age": True, "plan": True}, {}])
    assert [e.kind for e in events] == ["firing", "updated", "resolved"]
    sink = Recorder()
    deliver(events, {"log": sink})
    assert [e.kind for e in sink.events] == ["firing", "resolved"]


def test_dispatcher_delivers_off_the_calling_thread() -> None:
    class Slow(Recorder):
        def send(self, event: AlertEvent) -> None:
            time.sleep(0.2)
            super().send(event)

    class Broken:
        def send(self, event: AlertEvent) -> None:
            raise ConnectionError("down")

    slow = Slow()
    dispatcher = AlertDispatcher({"slow": slow, "broken": Broken()}, attempts=2, backoff=0.01)
    started = time.perf_counter()
    dispatcher.submit([FIRING, RESOLVED])
    assert time.perf_counter() - started < 0.1
    dispatcher.close()
    assert slow.events == [FIRING, RESOLVED]
    assert [(f.channel, f.kind) for f in dispatcher.failures] == [
        ("broken", "firing"),
        ("broken", "resolved"),
    ]


# -- configuration -------------------------------------------------------------------

CONFIG = """
[[rules]]
name = "ignored-here"

[channels.log]
type = "log"
path = "logs/alerts.jsonl"

[channels.oncall]
type = "webhook"
url_env = "ONCALL_URL"
headers = { X-Team = "ml" }
headers_env = { Authorization = "ONCALL_AUTH" }
timeout = 3

[channels.team]
type = "slack"
webhook_url = "https://hooks.example.com/T0/B0"

[channels.mail]
type = "email"
host = "smtp.example.com"
port = 587
sender = "headway@example.com"
recipients = ["ml-oncall@example.com"]
username = "headway"
password_env = "SMTP_PASSWORD"
starttls = true
"""
ENV = {
    "ONCALL_URL": "https://oncall.example.com/hook",
    "ONCALL_AUTH": "Bearer t0k",
    "SMTP_PASSWORD": "pw",
}


def test_channels_from_file_builds_each_kind_with_secrets_from_the_environment(
    tmp_path: Path,
) -> None:
    path = tmp_path / "alerts.toml"
    path.write_text(CONFIG)
    channels = channels_from_file(path, env=ENV)
    assert list(channels) == ["log", "oncall", "team", "mail"]
    log, oncall, team, mail = channels.values()
    assert isinstance(log, LogFileChannel) and log.path == tmp_path / "logs" / "alerts.jsonl"
    assert isinstance(oncall, WebhookChannel) and oncall.url == ENV["ONCALL_URL"]
    assert oncall.headers == {"X-Team": "ml", "Authorization": "Bearer t0k"}
    assert oncall.timeout == 3
    assert isinstance(team, SlackChannel) and team.url == "https://hooks.example.com/T0/B0"
    assert isinstance(mail, EmailChannel)
    assert (mail.port, mail.username, mail.password, mail.starttls) == (587, "headway", "pw", True)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('type = "pager"', r"channels\.x\.type must be one of"),
        ('type = "log"', r"channels\.x\.path must be non-empty text \(missing\)"),
        ('type = "log"\npath = "a"\ncolour = "red"', r"unknown key 'colour' in \[channels\.x\]"),
        ('type = "webhook"', r"\[channels\.x\] needs exactly one of 'url' or 'url_env'"),
        ('type = "webhook"\nurl = "ftp://h/x"', r"channels\.x\.url must be an http://"),
        ('type = "slack"\nwebhook_url = "nope"', r"channels\.x\.webhook_url must be an http://"),
        ('type = "webhook"\nurl_env = "UNSET_VAR"', r"channels\.x\.url_env names .*'UNSET_VAR'"),
        ('type = "webhook"\nurl = "http://h"\ntimeout = 0', r"channels\.x\.timeout must be"),
        (
            'type = "email"\nhost = "h"\nsender = "s@h"\nrecipients = ["r@h"]\npassword = "pw"',
            "unknown key 'password'.*password_env",
        ),
        (
            'type = "email"\nhost = "h"\nsender = "s@h"\nrecipients = "r@h"',
            r"channels\.x\.recipients must be a non-empty list",
        ),
        (
            'type = "email"\nhost = "h"\nsender = "s@h"\nrecipients = ["r@h"]\nport = 70000',
            r"channels\.x\.port must be a port number",
        ),
        (
            'type = "email"\nhost = "h"\nsender = "s@h"\nrecipients = ["r@h"]\n'
            'password_env = "UNSET_VAR"',
            r"channels\.x\.password_env names the environment variable 'UNSET_VAR'",
        ),
    ],
)
def test_channel_config_errors_name_the_key(table: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        channels_from_toml(f"[channels.x]\n{table}\n", env={}, source="alerts.toml")


def test_channel_config_document_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        channels_from_toml("[channels.x\n")
    with pytest.raises(ConfigError, match=r"\[channels\.NAME\]"):
        channels_from_toml('channels = "log"\n')
    with pytest.raises(ConfigError, match="does not exist"):
        channels_from_file(tmp_path / "missing.toml")
