"""The offline runtime's data services: moto's server in a child process, reached over HTTP,
with DynamoDB's conditional writes and Kinesis's record numbering atomic, and gone when its
parent lets go of it."""

import os
import threading
import time

import boto3
import pytest
from botocore.exceptions import ClientError

from mecroute.local.moto_process import MotoProcess

REGION = "us-east-1"


@pytest.fixture
def served():
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    started = MotoProcess.start(env)
    yield started
    started.stop()


def dynamodb(served: MotoProcess):
    return boto3.client(
        "dynamodb", endpoint_url=served.url, region_name=REGION,
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )  # fmt: skip


def dynamodb_with_table(served: MotoProcess, name: str):
    """A client of the child's DynamoDB, with a table keyed by the string `k` created."""
    client = dynamodb(served)
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return client


def test_it_serves_dynamodb_with_conditional_writes_checked(served):
    # Given a table in the child's moto
    client = dynamodb_with_table(served, "t")
    new_only = {"ConditionExpression": "attribute_not_exists(k)"}
    # When one key is put twice on condition that it is new
    client.put_item(TableName="t", Item={"k": {"S": "a"}}, **new_only)
    # Then the second put is refused, as DynamoDB refuses it
    with pytest.raises(ClientError, match="ConditionalCheckFailed"):
        client.put_item(TableName="t", Item={"k": {"S": "a"}}, **new_only)
    assert served.process.poll() is None


def test_it_ends_when_its_parent_closes_its_input(served):
    # Given a running server (its parent holds its standard input)
    assert served.process.poll() is None
    # When the parent lets go, as a runtime that was killed outright does
    assert served.process.stdin is not None
    served.process.stdin.close()
    # Then the server exits by itself: no process is left behind
    deadline = time.monotonic() + 10
    while served.process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert served.process.returncode == 0


def test_stop_ends_it_and_can_be_repeated(served):
    served.stop()
    assert served.process.poll() is not None
    served.stop()


def test_a_cancelled_transaction_leaves_every_item_as_it_was(served):
    # Given a table with items, one of which a transaction will update
    client = dynamodb_with_table(served, "usage")
    for key in ("held", "spent", "other"):
        client.put_item(TableName="usage", Item={"k": {"S": key}, "n": {"N": "1"}})
    before = client.scan(TableName="usage")["Items"]
    # When a transaction updates one item, puts a new one, then fails a condition on a third
    with pytest.raises(ClientError, match="TransactionCanceled"):
        client.transact_write_items(
            TransactItems=[
                {"Update": {"TableName": "usage", "Key": {"k": {"S": "spent"}},
                            "UpdateExpression": "ADD n :one",
                            "ExpressionAttributeValues": {":one": {"N": "1"}}}},
                {"Put": {"TableName": "usage", "Item": {"k": {"S": "new"}}}},
                {"Update": {"TableName": "usage", "Key": {"k": {"S": "held"}},
                            "UpdateExpression": "SET n = :two",
                            "ConditionExpression": "n > :two",
                            "ExpressionAttributeValues": {":two": {"N": "2"}}}},
            ]
        )  # fmt: skip
    # Then nothing it did is left: the update is undone and the new item is gone
    after = client.scan(TableName="usage")["Items"]
    assert sorted(after, key=str) == sorted(before, key=str)
    # And a transaction that goes through writes all of its items
    client.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": "usage", "Item": {"k": {"S": "new"}}}},
            {"Update": {"TableName": "usage", "Key": {"k": {"S": "spent"}},
                        "UpdateExpression": "ADD n :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}}}},
        ]
    )  # fmt: skip
    spent = client.get_item(TableName="usage", Key={"k": {"S": "spent"}})["Item"]
    assert spent["n"] == {"N": "2"}
    assert "Item" in client.get_item(TableName="usage", Key={"k": {"S": "new"}})


def test_concurrent_stream_writes_keep_every_record(served):
    # Given one shard, and eight writers putting batches at once (the monitor's events, the
    # gateways' shippers), each through a client of its own
    def kinesis():
        return boto3.client(
            "kinesis", endpoint_url=served.url, region_name=REGION,
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )  # fmt: skip

    kinesis().create_stream(StreamName="metrics", ShardCount=1)

    def write(writer: int) -> None:
        client = kinesis()
        for batch in range(25):
            records = [
                {"Data": f"{writer}/{batch}/{n}".encode(), "PartitionKey": "p"} for n in range(4)
            ]
            client.put_records(StreamName="metrics", Records=records)

    writers = [threading.Thread(target=write, args=(writer,)) for writer in range(8)]
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    # Then every record is on the stream, each once
    client = kinesis()
    (shard,) = client.describe_stream(StreamName="metrics")["StreamDescription"]["Shards"]
    iterator = client.get_shard_iterator(
        StreamName="metrics", ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    data = [r["Data"] for r in client.get_records(ShardIterator=iterator, Limit=10_000)["Records"]]
    assert len(data) == len(set(data)) == 8 * 25 * 4
