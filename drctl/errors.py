"""drctl's exit codes and its one error type: every failure the CLI reports ends as one line on stderr and
one of these codes (drctl.main maps anything else to INTERNAL, also on one line)."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0  # the command did what was asked; a watched run Succeeded
    FAILED = 1  # a watched run Failed; plans validate found problems; what_if: not ready
    USAGE = 2  # bad input: options, files, an unknown plan or run (the API's 400 / 404)
    PARTIAL = 3  # a watched run PartiallySucceeded
    REJECTED = 4  # a watched run was Rejected (or its approval timed out)
    CANCELED = 5  # a watched run was Canceled
    RUNNING = 6  # the run is still running: the watch was interrupted or timed out
    UNREACHABLE = 7  # no answer from the API or the stack (connection refused, timeout, 502/503/504)
    REFUSED = 8  # the API refused the request: 401/403 (key, token, role), 409 (not now), other 5xx
    INTERNAL = 9  # a bug in drctl: the one line says what


EXIT_CODES_HELP = (
    "Exit codes: 0 succeeded (a watched run Succeeded) · 1 run Failed, plans invalid or what-if not ready · "
    "2 bad input or usage · 3 PartiallySucceeded · 4 Rejected · 5 Canceled · 6 still running (watch interrupted "
    "or timed out) · 7 API or stack unreachable · 8 refused by the API (key, role, conflict, server error) · "
    "9 internal error."
)

RUN_STATUS_CODES = {
    "Succeeded": ExitCode.OK,
    "Failed": ExitCode.FAILED,
    "PartiallySucceeded": ExitCode.PARTIAL,
    "Rejected": ExitCode.REJECTED,
    "Canceled": ExitCode.CANCELED,
}


class CliError(Exception):
    """What the user is told (one line, never a secret) and the exit code."""

    def __init__(self, message: str, code: ExitCode = ExitCode.USAGE) -> None:
        super().__init__(message)
        self.message = " ".join(message.split())  # one line, whatever the API or a library said
        self.code = code
