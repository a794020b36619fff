"""Alert channels: where people hear of alerts (log file, webhook, Slack, email).

Every channel honours one contract, :class:`Channel`: ``send(event)`` delivers one
:class:`~headway.monitoring.alerts.AlertEvent` or raises. :func:`deliver` routes the events
that notify to each alert's channels, retries a failed send with exponential backoff, and
then logs and reports the failure instead of raising: a broken mail server must never stop
a monitor from watching. :class:`AlertDispatcher` does the same on a background thread, so
a slow channel never holds up the monitor loop either.

Channels are configured in TOML, one table per channel; secrets come from environment
variables named in the file, never from the file itself::

    [channels.log]
    type = "log"
    path = ".headway/alerts.jsonl"      # relative to the file's folder

    [channels.oncall]
    type = "webhook"
    url = "https://hooks.example.com/alerts"   # or url_env = "ONCALL_WEBHOOK_URL"
    headers = { X-Team = "ml" }
    headers_env = { Authorization = "ONCALL_AUTH_HEADER" }
    timeout = 5

    [channels.team]
    type = "slack"
    webhook_url_env = "SLACK_WEBHOOK_URL"      # or webhook_url = "..."

    [channels.mail]
    type = "email"
    host = "smtp.example.com"
    port = 587
    sender = "headway@example.com"
    recipients = ["ml-oncall@example.com"]
    username = "headway"                       # or username_env
    password_env = "SMTP_PASSWORD"
    starttls = true
"""

from __future__ import annotations

import json
import logging
import os
import queue
import smtplib
import ssl
import threading
import time
import tomllib
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from headway.errors import ConfigError, InvalidArgumentError
from headway.monitoring.alerts import AlertEvent

__all__ = [
    "AlertDispatcher",
    "Channel",
    "DeliveryFailure",
    "EmailChannel",
    "LogFileChannel",
    "SlackChannel",
    "WebhookChannel",
    "channels_from_file",
    "channels_from_toml",
    "deliver",
]

log = logging.getLogger("headway.monitoring")

_SLACK_TEXT_LIMIT = 3000  # Slack rejects a section whose text is longer


@runtime_checkable
class Channel(Protocol):
    """Delivers one alert event somewhere people will see it; raises when it cannot."""

    def send(self, event: AlertEvent) -> None: ...


# -- implementations -------------------------------------------------------------------


class LogFileChannel:
    """Append each event as one JSON line, synced to disk: an audit trail that needs no server.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "alerts.jsonl"
    >>> LogFileChannel(path).path.name
    'alerts.jsonl'
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def send(self, event: AlertEvent) -> None:
        line = json.dumps(event.to_dict(), sort_keys=True, default=str) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as f:
                f.write(line)
                f.flush()
                os.fsync(f.fileno())

    def __repr__(self) -> str:
        return f"LogFileChannel({str(self.path)!r})"


class WebhookChannel:
    """POST each event as JSON (:meth:`AlertEvent.to_dict`) to a URL; any non-2xx fails.

    Parameters
    ----------
    url
        An ``http`` or ``https`` URL.
    headers
        Extra request headers, e.g. an ``Authorization`` header.
    timeout
        Seconds to wait for the server before the attempt fails.
    """

    def __init__(
        self, url: str, headers: Mapping[str, str] | None = None, timeout: float = 10.0
    ) -> None:
        self.url = _http_url(url, "url")
        self.headers = dict(headers or {})
        self.timeout = _positive(timeout, "timeout")

    def payload(self, event: AlertEvent) -> dict[str, Any]:
        return event.to_dict()

    def send(self, event: AlertEvent) -> None:
        _post_json(self.url, self.payload(event), self.headers, self.timeout)

    def __repr__(self) -> str:
        # The URL may carry a secret token; show only where it goes.
        return f"{type(self).__name__}({_redacted(self.url)!r})"


class SlackChannel(WebhookChannel):
    """POST a Slack incoming-webhook message: ``text`` (the fallback) and ``blocks``.

    Works with Slack and with the many chat tools that accept its payload (Mattermost,
    Rocket.Chat, Discord's ``/slack`` endpoint).
    """

    def __init__(self, webhook_url: str, timeout: float = 10.0) -> None:
        super().__init__(_http_url(webhook_url, "webhook_url"), None, timeout)

    def payload(self, event: AlertEvent) -> dict[str, Any]:
        alert = event.alert
        fields = [
            f"*Severity*\n{alert.severity}",
            f"*State*\n{event.kind}",
            f"*Monitor*\n{alert.monitor}",
            f"*Rule*\n{alert.rule}",
        ]
        blocks: list[dict[str, Any]] = [
            {"type": "header", "text": {"type": "plain_text", "text": _title(event)[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": _clip(alert.summary)}},
            {
                "type": "section",
                "fields": [{"type": "mrkdwn", "text": text} for text in fields],
            },
        ]
        if alert.runbook and event.kind != "resolved":
            blocks.append(
                {
                    "type": "section",
                    "text": {"type": "mrkdwn", "text": _clip(f"*Runbook*\n{alert.runbook}")},
                }
            )
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"alert `{alert.id}`"}],
            }
        )
        return {"text": _title(event), "blocks": blocks}


class EmailChannel:
    """Send each event as a plain-text email over SMTP (optionally STARTTLS and login).

    Parameters
    ----------
    host, port
        The SMTP server.
    sender
        The From address.
    recipients
        The To addresses.
    username, password
        Login credentials, when the server needs them.
    starttls
        Upgrade the connection to TLS before logging in (port 587 servers).
    timeout
        Seconds to wait for the server before the attempt fails.
    """

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        recipients: Sequence[str],
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = 10.0,
    ) -> None:
        if not host:
            raise InvalidArgumentError("host must name an SMTP server, got an empty name")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise InvalidArgumentError(f"port must be a port number (1-65535), got {port!r}")
        if isinstance(recipients, str) or not recipients:
            raise InvalidArgumentError(
                f"recipients must be a non-empty list of addresses, got {recipients!r}"
            )
        self.host, self.port, self.sender = host, port, sender
        self.recipients = list(recipients)
        self.username, self.password = username, password
        self.starttls = starttls
        self.timeout = _positive(timeout, "timeout")

    def message(self, event: AlertEvent) -> EmailMessage:
        alert = event.alert
        msg = EmailMessage()
        msg["Subject"] = _title(event)
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.recipients)
        msg["Date"] = formatdate(event.at / 1000, usegmt=True)
        msg["Message-ID"] = make_msgid(domain="headway")
        msg["X-Headway-Alert"] = alert.id
        lines = [
            alert.summary,
            "",
            f"Severity: {alert.severity}",
            f"State:    {event.kind}",
            f"Monitor:  {alert.monitor}",
            f"Rule:     {alert.rule} ({alert.check})",
            f"Subjects: {', '.join(alert.subjects) or '-'}",
            f"Alert id: {alert.id}",
        ]
        if alert.runbook:
            lines += ["", "Runbook", "-------", alert.runbook]
        if event.details:
            lines += ["", "Details", "-------", json.dumps(event.details, indent=2, default=str)]
        msg.set_content("\n".join(lines) + "\n")
        return msg

    def send(self, event: AlertEvent) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(self.message(event))

    def __repr__(self) -> str:
        return f"EmailChannel({self.host!r}, {self.port}, recipients={self.recipients!r})"


# -- delivery --------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryFailure:
    """An event a channel did not take after every attempt; the reason is the last error."""

    alert_id: str
    kind: str
    channel: str
    attempts: int
    error: str


def deliver(
    events: Iterable[AlertEvent],
    channels: Mapping[str, Channel],
    *,
    attempts: int = 3,
    backoff: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
) -> list[DeliveryFailure]:
    """Send every event that notifies to its alert's channels; never raises on a failed send.

    An alert with no channels goes to every channel in ``channels``. A send that raises is
    tried again after ``backoff``, then twice as long, up to ``attempts`` tries; then the
    failure is logged and returned. An unknown channel name is a failure too.

    Parameters
    ----------
    events
        Events from :func:`~headway.monitoring.alerts.evaluate`; those that do not notify
        (``updated``, ``acked``) are skipped.
    channels
        Channel name -> channel.
    attempts
        Tries per event and channel, at least 1.
    backoff
        Seconds before the second try; doubles for each later one.
    sleep
        Waits between tries (tests pass a fake).

    Returns
    -------
    list[DeliveryFailure]
        What could not be delivered, for the caller to record.
    """
    attempts = max(1, int(attempts))
    failures: list[DeliveryFailure] = []
    for event in events:
        if not event.notifies:
            continue
        names = event.alert.channels or tuple(channels)
        if not names:
            error = "no channel is configured; add a [channels.NAME] table"
            log.error("alert %s (%s): %s", event.alert.id, event.kind, error)
            failures.append(DeliveryFailure(event.alert.id, event.kind, "", 0, error))
        for name in names:
            channel = channels.get(name)
            if channel is None:
                error = f"no channel named {name!r} is configured (have {sorted(channels)})"
                log.error("alert %s (%s): %s", event.alert.id, event.kind, error)
                failures.append(DeliveryFailure(event.alert.id, event.kind, name, 0, error))
                continue
            failure = _send(event, name, channel, attempts, backoff, sleep)
            if failure is not None:
                failures.append(failure)
    return failures


def _send(
    event: AlertEvent,
    name: str,
    channel: Channel,
    attempts: int,
    backoff: float,
    sleep: Callable[[float], None],
) -> DeliveryFailure | None:
    error = ""
    for attempt in range(attempts):
        if attempt:
            sleep(backoff * 2 ** (attempt - 1))
        try:
            channel.send(event)
            return None
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            log.warning(
                "alert %s (%s) to channel %s: attempt %d of %d failed: %s",
                event.alert.id,
                event.kind,
                name,
                attempt + 1,
                attempts,
                error,
            )
    log.error(
        "alert %s (%s) was not delivered to channel %s after %d attempts: %s",
        event.alert.id,
        event.kind,
        name,
        attempts,
        error,
    )
    return DeliveryFailure(event.alert.id, event.kind, name, attempts, error)


class AlertDispatcher:
    """Deliver events on a background thread so slow or failing channels never block.

    ``submit`` returns at once; ``close`` delivers what is queued, then stops the thread.
    Failures are logged and kept in :attr:`failures`.
    """

    def __init__(
        self, channels: Mapping[str, Channel], *, attempts: int = 3, backoff: float = 0.5
    ) -> None:
        self.channels = dict(channels)
        self.attempts = attempts
        self.backoff = backoff
        self.failures: list[DeliveryFailure] = []
        self._events: queue.SimpleQueue[list[AlertEvent] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="alert-dispatcher", daemon=True)
        self._thread.start()

    def submit(self, events: Iterable[AlertEvent]) -> None:
        batch = [event for event in events if event.notifies]
        if batch:
            self._events.put(batch)

    def _run(self) -> None:
        while (batch := self._events.get()) is not None:
            try:
                self.failures += deliver(
                    batch, self.channels, attempts=self.attempts, backoff=self.backoff
                )
            except Exception:  # a bug in a channel must not kill the thread
                log.exception("delivering %d alert event(s) failed", len(batch))

    def close(self, timeout: float = 30.0) -> None:
        self._events.put(None)
        self._thread.join(timeout=timeout)


# -- configuration ---------------------------------------------------------------------

_KEYS: dict[str, tuple[str, ...]] = {
    "log": ("type", "path"),
    "webhook": ("type", "url", "url_env", "headers", "headers_env", "timeout"),
    "slack": ("type", "webhook_url", "webhook_url_env", "timeout"),
    "email": (
        "type",
        "host",
        "port",
        "sender",
        "recipients",
        "username",
        "username_env",
        "password_env",
        "starttls",
        "timeout",
    ),
}


def channels_from_toml(
    text: str,
    *,
    env: Mapping[str, str] | None = None,
    base_dir: str | Path | None = None,
    source: str = "alert channels",
) -> dict[str, Channel]:
    """Build channels from ``[channels.NAME]`` tables (module docstring).

    Other top-level tables (such as ``[[rules]]``) are left for their own parsers.

    Parameters
    ----------
    text
        The TOML document.
    env
        Where ``*_env`` keys are looked up; ``os.environ`` by default.
    base_dir
        The folder relative log file paths are relative to; the current folder by default.
    source
        What to call the document in error messages, e.g. its file name.

    Raises
    ------
    ConfigError
        The TOML is malformed, a key is unknown, missing or of the wrong type, or a named
        environment variable is not set; the message names the key.

    Examples
    --------
    >>> channels = channels_from_toml('''
    ... [channels.team]
    ... type = "slack"
    ... webhook_url_env = "SLACK_URL"
    ... ''', env={"SLACK_URL": "https://hooks.example.com/T0/B0/secret"})
    >>> channels
    {'team': SlackChannel('https://hooks.example.com/…')}
    """
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source} is not valid TOML ({exc}); fix the syntax there") from None
    tables = doc.get("channels", {})
    if not isinstance(tables, dict):
        raise ConfigError(f"{source}: 'channels' must be tables written as [channels.NAME]")
    environ = os.environ if env is None else env
    root = Path(base_dir) if base_dir is not None else Path.cwd()
    built: dict[str, Channel] = {}
    for name, table in tables.items():
        where = f"channels.{name}"
        try:
            built[name] = _channel(table, where, environ, root)
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc}") from None
    return built


def channels_from_file(
    path: str | Path, *, env: Mapping[str, str] | None = None
) -> dict[str, Channel]:
    """Read channels from a TOML file; relative log paths are relative to its folder."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"alert channels file {str(path)!r} does not exist; pass a TOML file")
    return channels_from_toml(
        path.read_text(encoding="utf-8"), env=env, base_dir=path.parent, source=str(path)
    )


def _channel(table: Any, where: str, env: Mapping[str, str], root: Path) -> Channel:
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table written as [{where}], got {table!r}")
    kind = table.get("type")
    if kind not in _KEYS:
        raise ConfigError(f"{where}.type must be one of {sorted(_KEYS)}, got {kind!r}")
    unknown = sorted(set(table) - set(_KEYS[kind]))
    if unknown:
        hint = (
            "; keep secrets out of the file: name an environment variable with password_env"
            if "password" in unknown
            else ""
        )
        raise ConfigError(
            f"unknown key {unknown[0]!r} in [{where}] (type {kind!r}); "
            f"use one of {list(_KEYS[kind])}{hint}"
        )
    timeout = _opt_number(table, "timeout", where, 10.0)
    if kind == "log":
        path = Path(_required_str(table, "path", where))
        return LogFileChannel(path if path.is_absolute() else root / path)
    if kind == "webhook":
        headers = _str_table(table.get("headers", {}), f"{where}.headers")
        for header, var in _str_table(table.get("headers_env", {}), f"{where}.headers_env").items():
            headers[header] = _env(env, var, f"{where}.headers_env.{header}")
        url = _secret(table, "url", where, env)
        return _build(where, lambda: WebhookChannel(url, headers, timeout))
    if kind == "slack":
        url = _secret(table, "webhook_url", where, env)
        return _build(where, lambda: SlackChannel(url, timeout))
    port = table.get("port", 25)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise ConfigError(f"{where}.port must be a port number (1-65535), got {port!r}")
    recipients = table.get("recipients")
    if (
        not isinstance(recipients, list)
        or not recipients
        or not all(isinstance(r, str) and "@" in r for r in recipients)
    ):
        raise ConfigError(
            f'{where}.recipients must be a non-empty list of addresses such as ["a@example.com"],'
            f" got {recipients!r}"
        )
    starttls = table.get("starttls", False)
    if not isinstance(starttls, bool):
        raise ConfigError(f"{where}.starttls must be true or false, got {starttls!r}")
    username = None
    if "username" in table or "username_env" in table:
        username = _secret(table, "username", where, env)
    password = None
    if "password_env" in table:
        var = _required_str(table, "password_env", where)
        password = _env(env, var, f"{where}.password_env")
    return EmailChannel(
        host=_required_str(table, "host", where),
        port=port,
        sender=_required_str(table, "sender", where),
        recipients=recipients,
        username=username,
        password=password,
        starttls=starttls,
        timeout=timeout,
    )


def _build(where: str, make: Callable[[], Channel]) -> Channel:
    """Construct a channel, naming the TOML key when its value is refused."""
    try:
        return make()
    except InvalidArgumentError as exc:
        raise ConfigError(f"{where}.{exc}") from None


def _secret(table: dict[str, Any], key: str, where: str, env: Mapping[str, str]) -> str:
    """``key`` given in the file or ``key_env`` naming a variable; exactly one of them."""
    if (key in table) == (f"{key}_env" in table):
        raise ConfigError(
            f"[{where}] needs exactly one of {key!r} or {key + '_env'!r} (an environment "
            "variable holding it, for values that are secret)"
        )
    if key in table:
        return _required_str(table, key, where)
    var = _required_str(table, f"{key}_env", where)
    return _env(env, var, f"{where}.{key}_env")


def _env(env: Mapping[str, str], var: str, where: str) -> str:
    value = env.get(var)
    if not value:
        raise ConfigError(
            f"{where} names the environment variable {var!r}, which is not set; "
            "export it before starting the monitor"
        )
    return value


def _required_str(table: dict[str, Any], key: str, where: str) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value:
        shown = "missing" if key not in table else f"got {value!r}"
        raise ConfigError(f"{where}.{key} must be non-empty text ({shown})")
    return value


def _opt_number(table: dict[str, Any], key: str, where: str, default: float) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(f"{where}.{key} must be a positive number of seconds, got {value!r}")
    return float(value)


def _str_table(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ConfigError(f'{where} must be a table of text, e.g. {{ X-Team = "ml" }}')
    return dict(value)


# -- helpers ---------------------------------------------------------------------------


def _http_url(url: str, key: str) -> str:
    parts = urllib.parse.urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidArgumentError(
            f"{key} must be an http:// or https:// URL, got {_redacted(str(url))!r}"
        )
    return url


def _positive(value: float, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise InvalidArgumentError(f"{key} must be a positive number of seconds, got {value!r}")
    return float(value)


def _post_json(url: str, payload: Any, headers: Mapping[str, str], timeout: float) -> None:
    body = json.dumps(payload, default=str).encode("utf-8")
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "headway-alerts", **headers},
    )
    # urlopen raises HTTPError for 4xx and 5xx answers, so they count as failed attempts.
    with urllib.request.urlopen(request, timeout=timeout) as response:
        response.read()


def _title(event: AlertEvent) -> str:
    return f"[{event.alert.severity.upper()}] {event.kind.upper()}: {event.alert.summary}"


def _clip(text: str) -> str:
    return text if len(text) <= _SLACK_TEXT_LIMIT else text[: _SLACK_TEXT_LIMIT - 1] + "…"


def _redacted(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/…" if parts.netloc else "…"
