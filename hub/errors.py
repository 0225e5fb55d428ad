"""Threadline's error taxonomy. Each error carries context; none carries secrets."""

from __future__ import annotations

from dataclasses import dataclass


class ThreadlineError(Exception):
    """Base class of every error Threadline raises on purpose."""


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in a configuration file: where it is and what is wrong."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ConfigError(ThreadlineError):
    """The configuration is invalid; every issue found is reported at once."""

    def __init__(self, file: str, issues: list[ConfigIssue]) -> None:
        self.file = file
        self.issues = issues
        lines = "\n".join(f"  {file}: {issue}" for issue in issues)
        super().__init__(f"invalid configuration ({len(issues)} problem(s)):\n{lines}")


class ConnectorError(ThreadlineError):
    """A connector could not do its job. Subclasses say whether to retry."""

    def __init__(self, message: str, *, connector: str = "", code: str = "") -> None:
        super().__init__(message)
        self.connector = connector
        self.code = code


class RetriableError(ConnectorError):
    """Worth trying again later (429, 5xx, timeouts); ``retry_after`` in seconds."""

    def __init__(
        self,
        message: str,
        *,
        connector: str = "",
        code: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, connector=connector, code=code)
        self.retry_after = retry_after


class FatalConnectorError(ConnectorError):
    """Retrying cannot help until someone fixes something (auth, permissions, scope)."""


class SkippableError(ConnectorError):
    """One bad record or event: dead-letter it and carry on with the rest."""


class StoreUnavailableError(ThreadlineError):
    """The database cannot be reached; callers answer 503 so senders retry."""
