"""The exception hierarchy shared by both providers."""

from __future__ import annotations

from typing import Any

from ._log import redact_text
from .codes import ErrorCode, describe

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "CompositionFailedError",
    "CompositionsError",
    "ConflictError",
    "DownloadError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ResponseDecodeError",
    "ServerError",
    "StoreError",
    "UnprocessableEntityError",
    "WaitTimeoutError",
    "WebhookPayloadError",
    "WebhookVerificationError",
    "error_class_for_status",
]


class CompositionsError(Exception):
    """Base class of every error this library raises on purpose."""


class APIConnectionError(CompositionsError):
    """The request could not be completed at the transport level."""

    #: The server closed the connection (possibly an idle pooled one) without answering.
    stale_connection: bool = False

    def __init__(
        self,
        message: str,
        *,
        method: str = "",
        url: str = "",
        before_send: bool = False,
        cause: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.method = method
        self.url = url
        # True when the request surely never reached the server (safe to resend a create).
        self.before_send = before_send
        # A redacted description of the transport failure; the exception itself is not
        # kept (nor chained), as it holds the request's headers.
        self.cause = cause

    @property
    def may_have_been_processed(self) -> bool:
        """False only when the request surely never reached the server."""
        return not self.before_send

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.__dict__, str(self)))


class APITimeoutError(APIConnectionError):
    """The request did not complete within its timeout."""


class ResponseDecodeError(CompositionsError):
    """A response body was not the JSON the provider documents."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        body: str = "",
        request_id: str | None = None,
    ) -> None:
        # The excerpt reaches logs and tracebacks: mask pre-signed URL credentials in it.
        excerpt = redact_text(body[:200])
        suffix = f": {excerpt!r}" if body else ""
        super().__init__(f"{message}{suffix}")
        self.message = message
        self.status = status
        self.body = body
        self.request_id = request_id


class CompositionFailedError(CompositionsError):
    """``wait()`` saw the composition fail; ``.composition`` is the failed model.

    ``.code`` and ``.detail`` are the provider's error code and message when it gave them
    (Twilio's ``composition-failed`` status callback, fed to ``notify()``), else None;
    ``.retryable`` says whether creating the composition again may work (see ``codes``).
    """

    def __init__(
        self,
        message: str,
        composition: Any,
        *,
        code: str | None = None,
        detail: str | None = None,
        provider: str | None = None,
    ) -> None:
        super().__init__(message)
        self.composition = composition
        self.code = code
        self.detail = detail
        self.provider = provider

    @property
    def explanation(self) -> ErrorCode | None:
        """What the provider documents for ``code``, if anything."""
        return describe(self.provider, self.code)

    @property
    def retryable(self) -> bool | None:
        """Whether the provider says creating the composition again may work."""
        known = self.explanation
        return None if known is None else known.retryable

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.__dict__, str(self)))


class WaitTimeoutError(CompositionsError, TimeoutError):
    """``wait()`` reached its deadline; ``.composition`` is the last model seen, if any."""

    def __init__(self, message: str, composition: Any = None) -> None:
        super().__init__(message)
        self.composition = composition

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.composition))


class DownloadError(CompositionsError):
    """A media download ended with the wrong number of bytes or could not resume."""

    def __init__(self, message: str, *, expected: int | None = None, received: int = 0) -> None:
        super().__init__(message)
        self.expected = expected
        self.received = received


class WebhookVerificationError(CompositionsError):
    """A webhook's signature is missing, wrong or stale, or its body is malformed."""


class WebhookPayloadError(WebhookVerificationError):
    """A webhook's signature is valid but its body is not a composition event (answer 400)."""


def _rebuild(cls: type[Exception], state: dict[str, Any], text: str) -> Exception:
    """Recreate an error with keyword-only fields after pickling."""
    err = cls.__new__(cls)
    err.__dict__.update(state)
    Exception.__init__(err, text)
    return err


class APIError(CompositionsError):
    """The provider answered with an HTTP error status."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: int | str | None = None,
        request_id: str | None = None,
        more_info: str | None = None,
        body: str = "",
        errors: list[dict[str, Any]] | None = None,
        retry_after: float | None = None,
        provider: str | None = None,
    ) -> None:
        self.message = message
        self.status = status
        self.code = code
        self.request_id = request_id
        self.more_info = more_info
        self.body = body
        self.errors: list[dict[str, Any]] = errors if errors is not None else []
        self.retry_after = retry_after
        self.provider = provider
        super().__init__(self._describe())

    @property
    def explanation(self) -> ErrorCode | None:
        """What the provider documents for ``code`` (title, advice, retryable), if anything."""
        return describe(self.provider, self.code)

    @property
    def retryable(self) -> bool | None:
        """Whether the provider says the same request may succeed later (None: it does not
        say). A 429 always may."""
        known = self.explanation
        if known is not None:
            return known.retryable
        return True if self.status == 429 else None

    def _describe(self) -> str:
        parts = [f"HTTP {self.status}"]
        if self.code is not None:
            parts.append(f"code {self.code}")
        text = f"{' '.join(parts)}: {self.message}"
        if self.request_id:
            text += f" (request id {self.request_id})"
        return text

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.__dict__, str(self)))


class BadRequestError(APIError):
    """HTTP 400: the provider rejected the parameters."""


class AuthenticationError(APIError):
    """HTTP 401: the credentials were missing or wrong."""


class PermissionDeniedError(APIError):
    """HTTP 403: the credentials may not do this."""


class NotFoundError(APIError):
    """HTTP 404: no such resource (or its media is not ready yet)."""


class ConflictError(APIError):
    """HTTP 409: the resource is in a state that forbids the operation."""


class UnprocessableEntityError(APIError):
    """HTTP 422: well-formed but semantically invalid parameters."""


class RateLimitError(APIError):
    """HTTP 429: too many requests; ``retry_after`` says how long to wait, when known."""


class ServerError(APIError):
    """HTTP 5xx: the provider failed."""


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def error_class_for_status(status: int) -> type[APIError]:
    """Return the exception class for an HTTP error status."""
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, APIError)


class StoreError(CompositionsError):
    """An archive store (an S3 bucket, say) could not stat, write or commit an object.

    ``key`` is the store key involved (None for the store as a whole), ``operation`` the
    storage call that failed (``PutObject``), ``code`` and ``status`` the service's error
    code and HTTP status when it answered. The message is redacted: the SDK's exception is
    neither kept nor chained, as its attributes may hold request data; ``cause`` is a
    redacted description of it.
    """

    def __init__(
        self,
        message: str,
        *,
        key: str | None = None,
        operation: str = "",
        code: str = "",
        status: int | None = None,
        cause: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.key = key
        self.operation = operation
        self.code = code
        self.status = status
        self.cause = cause

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.__dict__, str(self)))
