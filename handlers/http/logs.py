"""What the HTTP edge writes to the log: an access log with secrets redacted, and a malformed
request as one warning line (never its bytes, which may carry a token)."""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl, urlencode

from aiohttp.abc import AbstractAccessLogger
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web import BaseRequest, StreamResponse

# Query parameters whose values are credentials: a token some clients send in the URL, and the
# Engine.IO session id, which lets whoever holds it speak for the connection.
SECRET_PARAMETERS = frozenset({"token", "access_token", "jwt", "auth", "sid"})
REDACTED = "[redacted]"


def redacted(path_qs: str) -> str:
    """A path with the values of secret query parameters replaced."""
    path, mark, query = path_qs.partition("?")
    if not mark:
        return path
    pairs = parse_qsl(query, keep_blank_values=True)
    if not any(name.lower() in SECRET_PARAMETERS for name, _ in pairs):
        return path_qs
    kept = [(n, REDACTED if n.lower() in SECRET_PARAMETERS else v) for n, v in pairs]
    return f"{path}?{urlencode(kept, safe='[]')}"


class AccessLog(AbstractAccessLogger):
    """One line a request: peer, request line (secrets redacted), status, bytes, seconds."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        version = f"{request.version.major}.{request.version.minor}"
        self.logger.info(
            '%s "%s %s HTTP/%s" %d %d %.3fs "%s"',
            request.remote,
            request.method,
            redacted(request.path_qs),
            version,
            response.status,
            response.body_length,
            time,
            request.headers.get("User-Agent", "-"),
        )


class MalformedRequests(logging.Filter):
    """aiohttp logs a request it cannot parse at ERROR with a traceback and the offending bytes
    (an Authorization header with a bad character, whole): make it one WARNING line without
    them. The client got its 400 already."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.msg, record.args = (
                "malformed HTTP request refused (%s %s)",
                (
                    error.code,
                    type(error).__name__,
                ),
            )
            record.exc_info, record.exc_text = None, None
        return True


_FILTER = MalformedRequests()


def quiet_malformed_requests() -> None:
    """Install the filter on aiohttp's server logger (once, whatever the number of apps)."""
    server_logger = logging.getLogger("aiohttp.server")
    if _FILTER not in server_logger.filters:
        server_logger.addFilter(_FILTER)
