"""What one AWS call is billed in: DynamoDB request units by item size, Kinesis kilobytes."""

from decimal import Decimal

from suite import aws_units


def test_a_put_costs_one_write_unit_per_started_kilobyte_in_either_form() -> None:
    small = {"k": "a", "n": Decimal("12.5")}
    typed = {"k": {"S": "a"}, "blob": {"S": "x" * 1500}}

    assert aws_units.units("dynamodb", "PutItem", {"Item": small}, {}) == {
        "dynamodb_write_units": 1.0
    }
    assert aws_units.units("dynamodb", "PutItem", {"Item": typed}, {}) == {
        "dynamodb_write_units": 2.0
    }


def test_a_transaction_costs_two_units_per_item() -> None:
    params = {
        "TransactItems": [
            {"Put": {"Item": {"k": {"S": "hold"}}}},
            {
                "Update": {
                    "Key": {"k": {"S": "day"}},
                    "ExpressionAttributeValues": {":a": {"N": "1"}},
                }
            },
        ]
    }
    assert aws_units.units("dynamodb", "TransactWriteItems", params, {}) == {
        "dynamodb_write_units": 4.0
    }


def test_reads_are_half_a_unit_per_4_kb_unless_consistent() -> None:
    found = {"Item": {"k": "a", "body": "x" * 5000}}

    assert aws_units.units("dynamodb", "GetItem", {}, found) == {"dynamodb_read_units": 1.0}
    assert aws_units.units("dynamodb", "GetItem", {"ConsistentRead": True}, found) == {
        "dynamodb_read_units": 2.0
    }
    assert aws_units.units("dynamodb", "Query", {}, {"Items": []}) == {"dynamodb_read_units": 0.5}


def test_stream_records_are_billed_in_kilobyte_steps_and_firehose_in_five() -> None:
    params = {
        "Records": [{"Data": b"x" * 1100, "PartitionKey": "r"}, {"Data": b"y", "PartitionKey": "r"}]
    }

    assert aws_units.units("kinesis", "PutRecords", params, {}) == {
        "kinesis_kb": 3.0,
        "firehose_kb": 10.0,
    }


def test_a_call_without_a_unit_is_counted_by_name() -> None:
    assert aws_units.units("sqs", "SendMessage", {}, {}) == {"call sqs:SendMessage": 1.0}
