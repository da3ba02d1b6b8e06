"""Exceptions as one line of text, for ``error: ...`` messages (torch-free, imports nothing).

One place for the three shapes the project prints: :func:`one_line` (the message, for user
errors), :func:`typed_first_line` (``Type: first line``, for wrapped library failures) and
:func:`last_line` (the original ``Type: message`` at the end of a re-raised worker traceback).
"""

from __future__ import annotations


def message_lines(err: BaseException) -> list[str]:
    """The non-blank lines of the exception's message, stripped."""
    return [line.strip() for line in str(err).splitlines() if line.strip()]


def one_line(err: BaseException, limit: int | None = None) -> str:
    """The exception's message on one line (its type name when it has no message), cut to
    ``limit`` characters (ending in ``...``) when given."""
    lines = message_lines(err)
    text = " ".join(lines) if lines else type(err).__name__
    return text if limit is None or len(text) <= limit else text[: limit - 3] + "..."


def typed_first_line(err: BaseException, limit: int = 200) -> str:
    """``Type: first line of the message`` (that line cut to ``limit`` characters); exceptions
    without a message give just the type."""
    lines = message_lines(err)
    return f"{type(err).__name__}: {lines[0][:limit]}" if lines else type(err).__name__


def last_line(err: BaseException) -> str:
    """The meaningful line of an exception; DataLoader re-raises worker errors with the worker's
    traceback in the message, whose last line is the original ``Type: message``."""
    lines = message_lines(err)
    if not lines:
        return type(err).__name__
    return lines[-1] if len(lines) > 1 else f"{type(err).__name__}: {lines[0]}"
