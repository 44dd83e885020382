"""SQS: the record dead-letter queue the state machine and the monitor park unstored decision
records in."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from mecroute.adapters.aws import client


@dataclass(frozen=True)
class Message:
    receipt_handle: str
    body: dict[str, Any]


class SqsQueue:
    def __init__(self, queue_url: str) -> None:
        self.queue_url = queue_url

    @classmethod
    def named(cls, name: str) -> SqsQueue:
        """The queue called `name` in this account and region (one GetQueueUrl call)."""
        url: str = client("sqs").get_queue_url(QueueName=name)["QueueUrl"]
        return cls(url)

    def receive(self, max_messages: int = 10, wait_s: int = 0) -> list[Message]:
        answer = client("sqs").receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=max_messages, WaitTimeSeconds=wait_s
        )
        return [
            Message(message["ReceiptHandle"], json.loads(message["Body"]))
            for message in answer.get("Messages", [])
        ]

    def send(self, body: dict[str, Any]) -> None:
        client("sqs").send_message(QueueUrl=self.queue_url, MessageBody=json.dumps(body))

    def delete(self, message: Message) -> None:
        client("sqs").delete_message(QueueUrl=self.queue_url, ReceiptHandle=message.receipt_handle)

    def depth(self) -> int:
        attributes = client("sqs").get_queue_attributes(
            QueueUrl=self.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )
