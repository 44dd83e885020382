"""Patches to moto: its Step Functions interpreter and server, changing nothing it answers, only
what it costs per call (each skipped if moto's internals have moved); its DynamoDB, whose
conditional writes are made atomic as they are in AWS; and its interpreter's lambda:invoke,
which passes `InvocationType` on as Step Functions does (`honour_invocation_type`) and is
answered by the runtime's in-process Lambda service without a client
(`invoke_functions_directly`)."""

from __future__ import annotations

import collections
import contextlib
import copy
import decimal
import functools
import io
import threading
import types
from collections.abc import Callable
from typing import Any

# Executions moto has finished, newest last, each with what DescribeExecution answers for it
# (bounded: an execution nobody waits for is forgotten after this many more have finished),
# and the condition waiters sleep on.
_FINISHED_KEPT = 10_000
_finished: collections.OrderedDict[str, dict[str, Any]] = collections.OrderedDict()
_finish = threading.Condition()


def speed_up_moto() -> None:
    """Costs moto pays on every call that change nothing it answers, and that dominated the
    offline pipeline's CPU under concurrent load (bench/bench_load.py):

    - Step Functions parses the ASL with ANTLR, in pure Python, at every execution (about
      0.15 s of CPU for this file). Its evaluation components keep per-execution state in the
      execution's environment, not in themselves, so one parse serves every execution; each
      component's heap key is assigned up front, since it is otherwise set lazily, unlocked.
    - Every JSONPath is compiled again (a PLY parser built) each time a state reads one.
    - Every Lambda or SQS task creates a new boto3 client, service model and all (29% of the
      server's GIL time at concurrency 16).
    - The server lists moto's package directory to route every request (`route_once`).
    - The interpreter deep-copies the state's data several times in every state (its input
      for each history event, each path, each frame): `copy.deepcopy` keeps a memo and looks
      up a copier per object; a copy that knows JSON values is several times quicker, and
      the copies made for a history event, which only serialises them, are not needed.
    - A caller waiting for an execution polls DescribeExecution (eight calls a request at
      concurrency 16, each a full request through the server): moto's interpreter runs in
      this process, so it signals the end instead, with what DescribeExecution would answer
      (`wait_until_finished`).

    Each is skipped if moto's internals have moved: the runtime is slower, never wrong.
    """
    for speed_up in (
        _parse_asl_once,
        _compile_json_paths_once,
        _reuse_task_clients,
        _signal_finished_executions,
        _copy_json_quickly,
    ):
        with contextlib.suppress(ImportError, AttributeError):
            speed_up()
    route_once()


def route_once() -> None:
    """moto's server lists its package directory to route every request, under a global lock:
    list it once (skipped if moto's internals have moved)."""
    with contextlib.suppress(ImportError, AttributeError):
        from moto import backends

        if getattr(backends.list_of_moto_modules, "listed_once", False):
            return
        modules = tuple(backends.list_of_moto_modules())

        def listed() -> Any:
            return iter(modules)

        listed.listed_once = True  # type: ignore[attr-defined]
        backends.list_of_moto_modules = listed


def wait_until_finished(execution_arn: str, timeout_s: float) -> dict[str, Any] | None:
    """Block until moto's interpreter has finished the execution, and return what
    DescribeExecution answers for it then (moto's own description: status, output, error,
    cause); None once `timeout_s` has passed, or at once if moto's internals moved and nothing
    signals: poll DescribeExecution instead."""
    if not getattr(_terminated(), "signals", False):
        return None
    with _finish:
        if _finish.wait_for(lambda: execution_arn in _finished, timeout_s):
            return _finished.pop(execution_arn)
    return None


def _terminated() -> Any:
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication

    return BaseExecutionWorkerCommunication.terminated


def _signal_finished_executions() -> None:
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication

    terminated = _terminated()
    if getattr(terminated, "signals", False):
        return

    def terminated_and_signalled(self: Any) -> None:
        terminated(self)  # the execution's status and output are set before anyone wakes
        described = dict(self.execution.to_describe_output())
        described["status"] = str(getattr(described["status"], "value", described["status"]))
        with _finish:
            _finished[self.execution.exec_arn] = described
            while len(_finished) > _FINISHED_KEPT:
                _finished.popitem(last=False)
            _finish.notify_all()

    terminated_and_signalled.signals = True  # type: ignore[attr-defined]
    BaseExecutionWorkerCommunication.terminated = terminated_and_signalled  # type: ignore[method-assign]


def copy_json(value: Any) -> Any:
    """A deep copy of a JSON value (dicts, lists, strings, numbers, booleans, None), which is
    what the interpreter's state data is; anything else is left to `copy.deepcopy`."""
    kind = type(value)
    if kind is dict:
        return {
            key: item if type(item) in _JSON_ATOMS else copy_json(item)
            for key, item in value.items()
        }
    if kind is list:
        return [item if type(item) in _JSON_ATOMS else copy_json(item) for item in value]
    if kind in _JSON_ATOMS:
        return value
    return copy.deepcopy(value)


_JSON_ATOMS = frozenset((str, int, float, bool, type(None)))


def _copy_json_quickly() -> None:
    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.component.common.string import string_expression
    from moto.stepfunctions.parser.asl.component.state.exec import execute_state
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service,  # a service task's parameters: RecordOutcome's whole answer
    )
    from moto.stepfunctions.parser.asl.component.state.state import CommonStateField
    from moto.stepfunctions.parser.asl.eval import environment, states

    modules: tuple[Any, ...] = (
        states,
        string_expression,
        result_path,
        execute_state,
        environment,
        state_task_service,
    )
    for module in modules:
        if module.copy is copy:  # each calls copy.deepcopy and nothing else of the module
            module.copy = _JSON_COPY
    # A state's entered and exited history events copy its data only to serialise the copy.
    for name in ("_get_state_entered_event_details", "_get_state_exited_event_details"):
        describe = getattr(CommonStateField, name)
        if not getattr(describe, "uncopied", False):
            setattr(CommonStateField, name, _serialised_uncopied(describe))


# Set on a thread while moto serialises a history event's data: what it copies then is only read.
_serialising = threading.local()


def _copy_unless_serialising(value: Any) -> Any:
    return value if getattr(_serialising, "active", False) else copy_json(value)


def _serialised_uncopied(describe: Any) -> Any:
    @functools.wraps(describe)
    def uncopied(*args: Any, **kwargs: Any) -> Any:
        _serialising.active = True
        try:
            return describe(*args, **kwargs)
        finally:
            _serialising.active = False

    uncopied.uncopied = True  # type: ignore[attr-defined]
    return uncopied


_JSON_COPY = types.SimpleNamespace(deepcopy=_copy_unless_serialising)


def make_conditional_writes_atomic() -> None:
    """DynamoDB checks a write's condition and writes in one step; moto's server checks, then
    writes, on whichever of its threads took the request, so two conditional puts of one new
    key could both succeed (powertools idempotency then ran inference twice for concurrent
    repeats of one key). One lock around moto's write calls makes each atomic again."""
    with contextlib.suppress(ImportError, AttributeError):
        from moto.dynamodb.models import DynamoDBBackend

        # Before the lock wraps it: what a transaction may have to restore is read under it.
        _restore_only_what_a_transaction_touched()
        lock = threading.RLock()
        for name in ("put_item", "update_item", "delete_item", "transact_write_items"):
            write = getattr(DynamoDBBackend, name)
            if not getattr(write, "atomic", False):
                setattr(DynamoDBBackend, name, _holding(lock, write))


def keep_sums_readable() -> None:
    """moto writes an ADD's sum with `str(Decimal)`: a sum of exactly zero is '0E-12', which
    moto itself then reads back as an integer (there is no decimal point) and fails on the
    next ADD to that attribute (the spend ledger's release of a reservation makes such sums).
    DynamoDB normalises numbers; here sums are written in positional notation instead."""
    with contextlib.suppress(ImportError, AttributeError):
        from moto.dynamodb.models.dynamo_type import DynamoType

        if getattr(DynamoType.__add__, "readable", False):
            return
        for name in ("__add__", "__sub__"):
            setattr(DynamoType, name, _positional(getattr(DynamoType, name)))


def _positional(arithmetic: Any) -> Any:
    def readable(self: Any, other: Any) -> Any:
        result = arithmetic(self, other)
        if result.is_number() and "E" in result.value.upper():
            result.value = format(decimal.Decimal(result.value), "f")
        return result

    readable.readable = True  # type: ignore[attr-defined]
    return readable


def make_stream_writes_atomic() -> None:
    """A Kinesis shard numbers each record one past its last; moto's shard reads the last
    number and then stores, unlocked ("not safe for concurrency", its comment says), so two
    concurrent PutRecords could take one number and the second record overwrote the first:
    an outcome event lost. A lock makes numbering and storing one step."""
    with contextlib.suppress(ImportError, AttributeError):
        from moto.kinesis.models import Shard

        put_record = Shard.put_record
        if getattr(put_record, "atomic", False):
            return
        lock = threading.RLock()  # a shard's puts are quick; one lock for all shards will do
        Shard.put_record = _holding(lock, put_record)  # type: ignore[method-assign]


def _restore_only_what_a_transaction_touched() -> None:
    """moto deep-copies every table a TransactWriteItems names, whole, to put it back if the
    transaction fails: a cost that grows with the table (the spend ledger's usage table gains
    a hold per request, so every request's transaction got slower). Instead the items the
    transaction names are copied, and put back (or removed, if new) when it fails. A table
    with a stream keeps moto's whole copy, which also restores the stream."""
    import moto.dynamodb.models
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    dynamodb_models: Any = moto.dynamodb.models

    transact = DynamoDBBackend.transact_write_items
    if getattr(transact, "restores_touched_items", False) or dynamodb_models.copy is not copy:
        return

    def whole_copy_unless_restored_by_item(value: Any, memo: Any = None) -> Any:
        if isinstance(value, Table) and value.stream_shard is None:
            return value  # moto's "restore" then puts back the same table: a no-op
        return copy.deepcopy(value, memo)

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        touched = [_touched(self, entry) for entry in transact_items]
        try:
            transact(self, transact_items)
        except Exception:
            for table, hash_key, range_key, before in reversed([t for t in touched if t]):
                if before is None:
                    table.delete_item(hash_key, range_key)
                elif range_key is None:
                    table.items[hash_key] = before  # where moto's Table.put_item keeps it
                else:
                    table.items[hash_key][range_key] = before
            raise

    transact_write_items.restores_touched_items = True  # type: ignore[attr-defined]
    dynamodb_models.copy = types.SimpleNamespace(deepcopy=whole_copy_unless_restored_by_item)
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def _touched(backend: Any, entry: dict[str, Any]) -> tuple[Any, Any, Any, Any] | None:
    """(table, hash key, range key, a copy of the item or None) for one transaction entry;
    None when moto will refuse the entry before writing (no such table, no key)."""
    operation = next(iter(entry.values()), None)
    if not isinstance(operation, dict):
        return None
    table = backend.tables.get(operation.get("TableName"))
    if table is None or table.stream_shard is not None:
        return None
    try:
        hash_key, range_key = backend.get_keys_value(
            table, operation.get("Key", operation.get("Item", {}))
        )
    except Exception:  # moto answers the bad key itself, having written nothing
        return None
    return table, hash_key, range_key, copy.deepcopy(table.get_item(hash_key, range_key))


def _holding(lock: threading.RLock, write: Any) -> Any:
    @functools.wraps(write)
    def atomic(*args: Any, **kwargs: Any) -> Any:
        with lock:
            return write(*args, **kwargs)

    atomic.atomic = True  # type: ignore[attr-defined]
    return atomic


def _parse_asl_once() -> None:
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    if getattr(AmazonStateLanguageParser.parse, "memoised", False):
        return
    parse = AmazonStateLanguageParser.parse

    @functools.lru_cache(maxsize=16)
    def parse_once(definition: str) -> Any:
        parsed = parse(definition)
        _assign_heap_keys(parsed[0], set())
        return parsed

    parse_once.memoised = True  # type: ignore[attr-defined]
    AmazonStateLanguageParser.parse = staticmethod(parse_once)  # type: ignore[method-assign]


def _compile_json_paths_once() -> None:
    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.utils import json_path

    modules: tuple[Any, ...] = (json_path, result_path)
    for module in modules:
        if not hasattr(module.parse, "cache_info"):
            module.parse = functools.lru_cache(maxsize=1024)(module.parse)


def _reuse_task_clients() -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_sqs,
    )

    modules: tuple[Any, ...] = (lambda_eval_utils, state_task_service_sqs)
    for module in modules:
        if not getattr(module.boto_client_for, "reused", False):
            module.boto_client_for = _reusing(module.boto_client_for)


def _reusing(create: Any) -> Any:
    """`create` (moto's boto_client_for), keeping one client per region and service.

    moto passes every task state's credentials, and its boto_client_for ignores them (it signs
    with fixed dummy keys): the client depends only on region, service, the moto port it
    points to and the default session it is built from (where the in-process Lambda hook is
    registered), so those are the key.
    """
    import boto3
    from moto.settings import moto_server_port

    # Each value keeps its session alive, so that no later session can reuse its id.
    clients: dict[tuple[object, ...], tuple[Any, Any]] = {}
    lock = threading.Lock()

    def client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        with lock:
            if boto3.DEFAULT_SESSION is None:
                boto3.setup_default_session()  # what boto3.client would do, before the key
            session = boto3.DEFAULT_SESSION
            key = (region, service, moto_server_port(), id(session))
            if key not in clients:
                clients[key] = (session, create(region=region, service=service))
            return clients[key][1]

    client_for.reused = True  # type: ignore[attr-defined]
    return client_for


def _assign_heap_keys(node: Any, seen: set[int]) -> None:
    """Give every evaluation component in the parsed program its heap key now."""
    from moto.stepfunctions.parser.asl.component.component import Component
    from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent

    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, EvalComponent):
        _ = node.heap_key
    if isinstance(node, dict):
        children: Any = node.values()
    elif isinstance(node, list | tuple):
        children = node
    elif isinstance(node, Component):
        children = vars(node).values()
    else:
        return
    for child in children:
        _assign_heap_keys(child, seen)


# What answers moto's interpreter's Lambda invocations directly (the runtime's in-process
# Lambda service: function, payload, asynchronous -> status, answer, failed), if installed.
LambdaService = Callable[[str, bytes, bool], tuple[int, bytes, bool]]
_lambda_service: LambdaService | None = None


def invoke_functions_directly(service: LambdaService) -> None:
    """moto's interpreter invokes a task's function through a boto3 Lambda client, which the
    runtime's before-call hook then answers: botocore validates, serialises and signs the
    payload and parses the answer for nothing, six times a request. `service` answers the
    interpreter directly instead, with what the hook would have answered (skipped, like the
    speed-ups, if moto's internals have moved: the hook answers then)."""
    global _lambda_service
    _lambda_service = service
    with contextlib.suppress(ImportError, AttributeError):
        from moto.stepfunctions.parser.asl.component.state.exec.state_task import (
            lambda_eval_utils,
        )

        through_client = lambda_eval_utils._invoke_lambda_function
        if getattr(through_client, "direct", False):
            return

        def invoke(parameters: dict[str, Any], region: str, state_credentials: Any) -> Any:
            answering = _lambda_service
            if answering is None:
                return through_client(parameters, region, state_credentials)
            status, answer, failed = answering(
                parameters["FunctionName"],
                _as_bytes(parameters.get("Payload") or b"{}"),
                parameters.get("InvocationType") == "Event",
            )
            response = {
                "StatusCode": status,
                "ExecutedVersion": "$LATEST",
                "Payload": lambda_eval_utils._from_payload(io.BytesIO(answer)),
            }
            if failed:
                response["FunctionError"] = "Unhandled"
            return response

        invoke.direct = True  # type: ignore[attr-defined]
        lambda_eval_utils._invoke_lambda_function = invoke


def stop_invoking_directly(service: LambdaService) -> None:
    """Back to moto's client, unless another runtime's service has replaced `service`."""
    global _lambda_service
    if _lambda_service == service:
        _lambda_service = None


def _as_bytes(payload: bytes | str) -> bytes:
    return payload.encode() if isinstance(payload, str) else payload


def honour_invocation_type() -> None:
    """Step Functions passes `InvocationType` of an `arn:aws:states:::lambda:invoke` task to
    Lambda (RecordOutcome's asynchronous `Event`); moto's interpreter drops every parameter
    outside its list for the integration, and its list leaves this one out. Unlike the
    speed-ups this must not be skipped silently: without it the event would run synchronously,
    so a moved internal fails the runtime's start."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_lambda,
    )

    state_task_service_lambda._SUPPORTED_API_PARAM_BINDINGS["invoke"].add("InvocationType")
