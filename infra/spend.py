"""What the stack costs and who spends it: an AWS Budgets budget on the stack's monthly cost
that alerts the alarm topic (and an email), and a dashboard row of spend per tier and caller.

The budget counts the costs tagged `mecroute:stack=<stack name>` (every resource of the stack
carries the tag; activate it once as a cost allocation tag in the Billing console, or the
budget sees nothing). Callers' own budgets are not here: they are the tenants file's
(src/mecroute/tenants.json), enforced by the router and the execute guard.
"""

from __future__ import annotations

from aws_cdk import Stack, Tags
from aws_cdk import aws_budgets as budgets
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.config import AppConfig

COST_TAG = "mecroute:stack"
# (kind, threshold % of the budget): spent 80% already, or on course to pass it.
ALERTS = (("ACTUAL", 80.0), ("FORECASTED", 100.0))


class StackSpend(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: AppConfig,
        topic: sns.ITopic,
        topic_key: kms.IKey,
        execute_logs: logs.ILogGroup,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        Tags.of(stack).add(COST_TAG, stack.stack_name)
        budgets_service = iam.ServicePrincipal("budgets.amazonaws.com")
        same_account = {"StringEquals": {"aws:SourceAccount": stack.account}}
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                actions=["sns:Publish"],
                principals=[budgets_service],
                resources=[topic.topic_arn],
                conditions=same_account,
            )
        )
        topic_key.add_to_resource_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                principals=[budgets_service],
                resources=["*"],  # a key policy's resource is always the key itself
                conditions=same_account,
            )
        )
        subscribers = [
            budgets.CfnBudget.SubscriberProperty(subscription_type="SNS", address=topic.topic_arn)
        ]
        email = config.budget_email or config.alarm_email
        if email:
            subscribers.append(
                budgets.CfnBudget.SubscriberProperty(subscription_type="EMAIL", address=email)
            )
        self.budget = budgets.CfnBudget(
            self,
            "MonthlyCost",
            budget=budgets.CfnBudget.BudgetDataProperty(
                budget_name=f"{stack.stack_name}-monthly",
                budget_type="COST",
                time_unit="MONTHLY",
                budget_limit=budgets.CfnBudget.SpendProperty(
                    amount=config.budget_monthly_usd, unit="USD"
                ),
                cost_filters={"TagKeyValue": [f"user:{COST_TAG}${stack.stack_name}"]},
            ),
            notifications_with_subscribers=[
                budgets.CfnBudget.NotificationWithSubscribersProperty(
                    notification=budgets.CfnBudget.NotificationProperty(
                        notification_type=kind,
                        comparison_operator="GREATER_THAN",
                        threshold=threshold,
                        threshold_type="PERCENTAGE",
                    ),
                    subscribers=subscribers,
                )
                for kind, threshold in ALERTS
            ],
        )
        # Every paid answer is logged by the execute agent ("answered", user, tier, cost).
        self.widget = cloudwatch.LogQueryWidget(
            title="Spend per tier and caller (paid answers, the dashboard's time range)",
            log_group_names=[execute_logs.log_group_name],
            view=cloudwatch.LogQueryVisualizationType.TABLE,
            query_lines=[
                "filter message = 'answered' and cost_usd > 0",
                "stats sum(cost_usd) as spent_usd, count(*) as answers by tier, user_id",
                "sort spent_usd desc",
                "limit 50",
            ],
            width=24,
            height=6,
        )
