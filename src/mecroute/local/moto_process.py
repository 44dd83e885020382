"""moto's server for the AWS data services (DynamoDB, S3, Kinesis, SQS, Secrets Manager) in a
process of its own, so that serving the handlers' calls does not share the runtime's GIL with
Step Functions' interpreter and the handlers themselves.

    python -m mecroute.local.moto_process     (prints {"listening": URL} once it serves)

It ends on SIGTERM, or when its standard input closes: the runtime that started it holds the
other end, so a runtime killed outright leaves no server behind.
"""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass

from mecroute.local.fleet import end_process, wait_listening

# The services the handlers, the MEC nodes and the gateways call; Step Functions stays in the
# runtime's own process, where its interpreter runs the handlers in-process.
DATA_SERVICES = ("dynamodb", "s3", "kinesis", "sqs", "secretsmanager")
# Calls served at once: a pipeline's handlers call one at a time, so one per concurrent request
# the bench makes, beside nodes' heartbeats, the stream consumer and a queue's long polls.
SERVER_THREADS = 24
# botocore's per-service endpoint variables (AWS_ENDPOINT_URL_<service id>).
_ENDPOINT_VARIABLES = {
    "dynamodb": "AWS_ENDPOINT_URL_DYNAMODB",
    "s3": "AWS_ENDPOINT_URL_S3",
    "kinesis": "AWS_ENDPOINT_URL_KINESIS",
    "sqs": "AWS_ENDPOINT_URL_SQS",
    "secretsmanager": "AWS_ENDPOINT_URL_SECRETS_MANAGER",
}


@dataclass
class MotoProcess:
    """A started data-services server: its address and the child serving it."""

    url: str
    process: subprocess.Popen[str]

    @classmethod
    def start(cls, env: dict[str, str]) -> MotoProcess:
        command = [sys.executable, "-m", "mecroute.local.moto_process"]
        process = subprocess.Popen(  # noqa: S603 - our own module  # nosec B603
            command,
            env={**env, "PYTHONUNBUFFERED": "1"},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            return cls(wait_listening(process, "moto (data services)"), process)
        except BaseException:
            end_process(process, signal.SIGKILL, 10.0)
            raise

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def endpoints(self) -> dict[str, str]:
        """The environment that sends every data service's calls here."""
        return {variable: self.url for variable in _ENDPOINT_VARIABLES.values()}

    def stop(self, timeout_s: float = 10.0) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        end_process(self.process, signal.SIGTERM, timeout_s)


def main() -> None:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from waitress.server import create_server

    from mecroute.local.moto_patches import (
        keep_sums_readable,
        make_conditional_writes_atomic,
        make_stream_writes_atomic,
        route_once,
    )

    logging.getLogger("waitress").setLevel(logging.ERROR)  # no banner, no queue-depth notes
    route_once()
    make_conditional_writes_atomic()
    keep_sums_readable()
    make_stream_writes_atomic()
    # moto's own server (werkzeug's) closes every connection after one answer, so each call
    # paid a TCP connect and a new server thread; waitress keeps connections alive.
    server = create_server(
        DomainDispatcherApplication(create_backend_app),
        host="127.0.0.1",
        port=0,
        threads=SERVER_THREADS,
        ident="moto",
    )
    threading.Thread(target=server.run, name="moto-data", daemon=True).start()
    print(json.dumps({"listening": f"http://127.0.0.1:{server.effective_port}"}), flush=True)
    # Serve until the parent closes our input (or dies), or SIGTERM's default action ends us.
    sys.stdin.read()


if __name__ == "__main__":
    main()
