"""What the `mecroute` command says instead of a traceback: what went wrong and how to fix it."""

from __future__ import annotations

import errno
import socket
import urllib.error


class CliError(Exception):
    """A problem the user can fix; `fix` says how."""

    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.fix = fix

    def __str__(self) -> str:
        return f"mecroute: {self.problem}\n  fix: {self.fix}"


def port_in_use(port: int) -> CliError:
    return CliError(
        f"port {port} on 127.0.0.1 is already in use",
        f"pass another with --port (or PORT=... for make run), or stop what listens there "
        f"(`ss -ltnp 'sport = :{port}'` shows it)",
    )


def check_port_free(port: int) -> None:
    """Fail before the slow start-up, not after it, when the port is taken."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise port_in_use(port) from None
            raise


def explain(error: BaseException, port: int | None = None) -> CliError | None:
    """The CliError for an exception a user can cause, None for a bug (keep its traceback)."""
    if isinstance(error, CliError):
        return error
    if isinstance(error, OSError) and error.errno == errno.EADDRINUSE and port is not None:
        return port_in_use(port)
    if isinstance(error, FileNotFoundError):
        what = str(error) if not error.filename else f"{error.filename}: no such file or directory"
        return CliError(
            what,
            "check the path; the labelled MMLU data is kept outside the repository "
            "(docs/complexity-model.md says where), pass its directory with --data",
        )
    if isinstance(error, ConnectionError | urllib.error.URLError | TimeoutError):
        reason = getattr(error, "reason", error)
        return CliError(
            f"cannot reach the API: {reason}",
            "start it with `mecroute serve` (or `make run`), or point --url at a running one",
        )
    return None
