"""The Express state machine, built from the same ASL file the offline runtime executes; the
record dead-letter queue its Record* states and the monitor park unstored decision records in;
and the monitor's asynchronous invocation (RecordOutcome's event) with that queue as its
on-failure destination.

Two steps, because the agents need the queue's name before the state machine needs the agents:
`Pipeline(...)` makes the queue and log group, `orchestrate(agents)` the state machine.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.agents import ASL_FILE, Agents
from infra.common import dead_letter_queue, log_group
from mecroute.lambda_support.manifest import BY_NAME


class Pipeline(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, log_retention: logs.RetentionDays
    ) -> None:
        super().__init__(scope, construct_id)
        # Step Functions writes execution events to a log group it names itself; the
        # /aws/vendedlogs/ prefix keeps its resource policy from growing past the size limit.
        self.log_group = log_group(
            self,
            "ExecutionLogs",
            log_retention,
            log_group_name=f"/aws/vendedlogs/states/{Stack.of(self).stack_name}-pipeline",
        )
        # Decision records the monitor could not store, tasks of a monitor that kept failing
        # and RecordOutcome events Lambda gave up on: kept 14 days for
        # `python -m mecroute.ops.redrive` (docs/reliability.md).
        self.record_dead_letters = dead_letter_queue(self, "RecordDeadLetters")

    def orchestrate(
        self, agents: Agents, aliases: Mapping[str, lambda_.IFunction] | None = None
    ) -> sfn.StateMachine:
        """`aliases`: what the ASL invokes for each agent (its `live` alias, shifted by canary:
        infra/deployment.py); without them, the functions themselves."""
        functions: Mapping[str, lambda_.IFunction] = aliases or {
            agent: fn.function for agent, fn in agents.functions.items()
        }
        self.state_machine = sfn.StateMachine(
            self,
            "InferencePipeline",
            comment="mecroute: context, resources, route, prepare, execute with fallbacks, record",
            state_machine_type=sfn.StateMachineType.EXPRESS,
            definition_body=sfn.DefinitionBody.from_file(str(ASL_FILE)),
            definition_substitutions={
                **{
                    f"{agent.capitalize()}FunctionArn": fn.function_arn
                    for agent, fn in functions.items()
                },
                "RecordDeadLettersUrl": self.record_dead_letters.queue_url,
            },
            tracing_enabled=True,
            # Every state transition, without its input or output: prompts stay out of the
            # region's logs whatever their privacy (issue 17).
            logs=sfn.LogOptions(
                destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=False
            ),
        )
        # The ASL invokes each agent by that one ARN (its alias); `grant_invoke` would add
        # `<arn>:*` (every version and alias) as well, which nothing here uses.
        self.state_machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"],
                resources=[fn.function_arn for fn in functions.values()],
            )
        )
        # The DeadLetter* states' sqs:sendMessage, on this one queue.
        self.state_machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["sqs:SendMessage"], resources=[self.record_dead_letters.queue_arn]
            )
        )
        self._record_asynchronously(functions["monitor"])
        return self.state_machine

    def _record_asynchronously(self, monitor: lambda_.IFunction) -> None:
        """RecordOutcome's event: retried by Lambda as the manifest says, then delivered to the
        record dead-letter queue (the destination grants the monitor sqs:SendMessage on it,
        which it also uses to park what a store could not write)."""
        config = BY_NAME["monitor"].event_invoke
        if config is None:
            raise ValueError("the manifest must give the monitor an event-invoke config")
        monitor.configure_async_invoke(
            retry_attempts=config.retry_attempts,
            max_event_age=Duration.seconds(config.max_event_age_s),
            on_failure=destinations.SqsDestination(self.record_dead_letters),
        )
