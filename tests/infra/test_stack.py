"""Template assertions on the synthesised stack: every resource and the properties that make it
safe to run (encryption, recovery, runtimes, logging, tracing, least privilege)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template
from infra.agents import state_timeouts
from infra.config import AppConfig, cdk_json_context
from infra.seed import ZOO_UPLOAD_DIR
from infra.storage import IDEMPOTENCY_KEY, IDEMPOTENCY_TTL
from infra_synthesis import Synthesis

from mecroute.adapters.tables import TABLE_KEYS
from mecroute.domain.node_auth import SCOPES
from mecroute.gateway.auth import API_KEY_HASH
from mecroute.lambda_support.manifest import AGENTS, BY_NAME, FUNCTIONS, Function
from mecroute.mec.zoo import CATALOGUE, artifact_key

CONFIG = AppConfig.model_validate(cdk_json_context())
OUR_FUNCTIONS = 9  # six agents, the aggregator, the two API Lambdas


def ours(synthesis: Synthesis) -> dict[str, Any]:
    """Functions built by infra/function.py (not CDK's own custom-resource handlers)."""
    return {
        key: fn
        for key, fn in synthesis.of_type("AWS::Lambda::Function").items()
        if fn["Properties"].get("Handler") == "handler.handler"
    }


def agent_function(synthesis: Synthesis, agent: str) -> dict[str, Any]:
    (fn,) = (
        fn
        for fn in ours(synthesis).values()
        if fn["Properties"]["Description"].lower().startswith(f"{agent} agent")
    )
    return fn


def statements(synthesis: Synthesis) -> list[dict[str, Any]]:
    found = []
    for resource in synthesis.resources.values():
        if resource["Type"] == "AWS::IAM::Policy":
            found += resource["Properties"]["PolicyDocument"]["Statement"]
        if resource["Type"] == "AWS::IAM::Role":
            for policy in resource["Properties"].get("Policies", []):
                found += policy["PolicyDocument"]["Statement"]
    return found


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# -- Lambda -----------------------------------------------------------------------------------


def test_every_function_is_python_314_on_arm64_traced(synthesis: Synthesis):
    functions = ours(synthesis)
    assert len(functions) == OUR_FUNCTIONS
    for fn in functions.values():
        properties = fn["Properties"]
        assert properties["Runtime"] == "python3.14"
        assert properties["Architectures"] == ["arm64"]
        assert properties["TracingConfig"] == {"Mode": "Active"}


def test_every_function_logs_to_its_own_group_with_retention(synthesis: Synthesis):
    log_groups = synthesis.of_type("AWS::Logs::LogGroup")
    used = []
    for fn in ours(synthesis).values():
        (group,) = fn["Properties"]["LoggingConfig"]["LogGroup"].values()
        log_group = log_groups[group]
        assert log_group["Properties"]["RetentionInDays"] == CONFIG.log_retention_days
        used.append(group)
    assert len(set(used)) == OUR_FUNCTIONS


def test_every_function_has_its_own_role_without_managed_policies(synthesis: Synthesis):
    roles = synthesis.of_type("AWS::IAM::Role")
    role_ids = [fn["Properties"]["Role"]["Fn::GetAtt"][0] for fn in ours(synthesis).values()]
    assert len(set(role_ids)) == OUR_FUNCTIONS
    for role_id in role_ids:
        assert "ManagedPolicyArns" not in roles[role_id]["Properties"]


def test_onnxruntime_layer_only_on_the_agents_that_import_it(synthesis: Synthesis):
    layers = synthesis.of_type("AWS::Lambda::LayerVersion")
    (onnx,) = (k for k, v in layers.items() if "onnxruntime" in v["Properties"]["Description"])
    for agent in AGENTS:
        attached = [ref["Ref"] for ref in agent_function(synthesis, agent)["Properties"]["Layers"]]
        assert (onnx in attached) == BY_NAME[agent].onnx, agent


@pytest.mark.parametrize("agent", AGENTS)
def test_each_agent_gets_exactly_the_environment_its_settings_read(
    synthesis: Synthesis, agent: str
):
    variables = agent_function(synthesis, agent)["Properties"]["Environment"]["Variables"]
    fields = BY_NAME[agent].settings.model_fields
    settings = {name.upper() for name in fields}
    own = set(variables) - {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE"}
    assert own <= settings
    required = {n.upper() for n, f in fields.items() if f.is_required()}
    assert required <= own


def test_function_timeouts_match_the_state_machine_task_timeouts(synthesis: Synthesis):
    for agent, seconds in state_timeouts().items():
        assert agent_function(synthesis, agent)["Properties"]["Timeout"] == seconds


def test_only_the_mec_callers_run_in_the_vpc(synthesis: Synthesis):
    for agent in AGENTS:
        in_vpc = "VpcConfig" in agent_function(synthesis, agent)["Properties"]
        assert in_vpc == (agent in {"resource", "cache", "execute"}) == BY_NAME[agent].mec_caller


# -- Step Functions -------------------------------------------------------------------------


def test_state_machine_is_express_and_runs_the_asl_file(synthesis: Synthesis):
    (machine,) = synthesis.of_type("AWS::StepFunctions::StateMachine").values()
    properties = machine["Properties"]
    assert properties["StateMachineType"] == "EXPRESS"
    assert properties["TracingConfiguration"] == {"Enabled": True}
    assert properties["LoggingConfiguration"]["Level"] == "ALL"
    assert properties["LoggingConfiguration"]["IncludeExecutionData"] is False  # no prompts
    substitutions = properties["DefinitionSubstitutions"]
    assert set(substitutions) == {f"{a.capitalize()}FunctionArn" for a in AGENTS} | {
        "RecordDeadLettersUrl"
    }
    # DefinitionBody.from_file: the ASL file itself is the deployed asset, unchanged.
    assert "DefinitionS3Location" in properties
    assert "DefinitionString" not in properties


def test_state_machine_may_invoke_exactly_the_six_agents(synthesis: Synthesis):
    invokes = [s for s in statements(synthesis) if "lambda:InvokeFunction" in as_list(s["Action"])]
    (statement,) = invokes
    resources = as_list(statement["Resource"])
    assert len(resources) == len(AGENTS)
    # each agent's `live` alias (infra/deployment.py), no `<arn>:*` versions
    aliases = synthesis.of_type("AWS::Lambda::Alias")
    assert all(set(r) == {"Ref"} and r["Ref"] in aliases for r in resources)


def test_the_monitor_records_asynchronously_with_the_record_queue_on_failure(
    synthesis: Synthesis,
):
    # RecordOutcome's event: Lambda retries it as the manifest says, then parks it in the
    # record dead-letter queue (encrypted, alarmed: RecordDeadLettersWaiting)
    config = BY_NAME["monitor"].event_invoke
    assert config is not None
    (invoke_config,) = synthesis.of_type("AWS::Lambda::EventInvokeConfig").values()
    properties = invoke_config["Properties"]
    monitor = next(
        key for key, fn in ours(synthesis).items() if fn is agent_function(synthesis, "monitor")
    )
    assert properties["FunctionName"] == {"Ref": monitor}
    # the monitor's `live` alias, which the ASL invokes (infra/deployment.py)
    (alias_id,) = [
        key
        for key, alias in synthesis.of_type("AWS::Lambda::Alias").items()
        if alias["Properties"]["FunctionName"] == {"Ref": monitor}
    ]
    assert alias_id in json.dumps(properties["Qualifier"])
    assert properties["MaximumRetryAttempts"] == config.retry_attempts
    assert properties["MaximumEventAgeInSeconds"] == config.max_event_age_s
    destination = properties["DestinationConfig"]["OnFailure"]["Destination"]
    (queue_key,) = destination["Fn::GetAtt"][:1]
    queue = synthesis.resources[queue_key]
    assert queue_key.startswith("PipelineRecordDeadLetters")
    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    alarmed = [
        alarm
        for alarm in synthesis.of_type("AWS::CloudWatch::Alarm").values()
        if {"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_key, "QueueName"]}}
        in alarm["Properties"].get("Dimensions", [])
    ]
    assert alarmed
    # The monitor may send there (Lambda delivers with its role; it parks unstored parts) and
    # reads the queue's name from its settings
    variables = agent_function(synthesis, "monitor")["Properties"]["Environment"]["Variables"]
    assert variables["RECORD_DEAD_LETTERS_QUEUE"] == {"Fn::GetAtt": [queue_key, "QueueName"]}
    sends = [
        s
        for s in statements(synthesis)
        if "sqs:SendMessage" in as_list(s["Action"])
        and {"Fn::GetAtt": [queue_key, "Arn"]} in as_list(s["Resource"])
    ]
    assert len(sends) == 2  # the state machine's DeadLetter* states and the monitor


# -- Storage ----------------------------------------------------------------------------------


def test_tables_on_demand_encrypted_recoverable_and_retained(template: Template):
    # the TABLE_KEYS tables, idempotency, the edge gateways' API keys
    template.resource_count_is("AWS::DynamoDB::GlobalTable", len(TABLE_KEYS) + 2)
    template.all_resources_properties(
        "AWS::DynamoDB::GlobalTable",
        {
            "BillingMode": "PAY_PER_REQUEST",
            "SSESpecification": {"SSEEnabled": True},
            "Replicas": [
                Match.object_like(
                    {
                        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                        "DeletionProtectionEnabled": True,
                    }
                )
            ],
        },
    )
    template.all_resources("AWS::DynamoDB::GlobalTable", {"DeletionPolicy": "Retain"})


def test_tables_have_the_offline_key_schemas_and_ttls(synthesis: Synthesis):
    tables = [t["Properties"] for t in synthesis.of_type("AWS::DynamoDB::GlobalTable").values()]
    by_key = {t["KeySchema"][0]["AttributeName"]: t for t in tables}
    expected = {key: ttl for key, ttl in TABLE_KEYS.values()} | {
        IDEMPOTENCY_KEY: IDEMPOTENCY_TTL,
        API_KEY_HASH: None,
    }
    assert set(by_key) == set(expected)
    for key, ttl in expected.items():
        spec = by_key[key].get("TimeToLiveSpecification")
        assert (spec == {"AttributeName": ttl, "Enabled": True}) if ttl else spec is None, key


def test_buckets_encrypted_private_tls_only_and_logged(synthesis: Synthesis):
    buckets = synthesis.of_type("AWS::S3::Bucket")
    assert len(buckets) == 3
    for bucket in buckets.values():
        properties = bucket["Properties"]
        assert properties["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
            "ServerSideEncryptionByDefault"
        ] == {"SSEAlgorithm": "AES256"}
        assert properties["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True, "BlockPublicPolicy": True,
            "IgnorePublicAcls": True, "RestrictPublicBuckets": True,
        }  # fmt: skip
        assert bucket["DeletionPolicy"] == "Retain"
    logged = [b for b in buckets.values() if "LoggingConfiguration" in b["Properties"]]
    assert len(logged) == 2  # artifacts and data lake; the access-log bucket is the target
    policies = synthesis.of_type("AWS::S3::BucketPolicy").values()
    tls_only = {"Bool": {"aws:SecureTransport": "false"}}
    denies_plain_http = [
        p for p in policies
        if any(s["Effect"] == "Deny" and s["Condition"] == tls_only
               for s in p["Properties"]["PolicyDocument"]["Statement"])
    ]  # fmt: skip
    assert len(denies_plain_http) == 3


def test_artifacts_versioned_and_data_lake_tiered(synthesis: Synthesis):
    buckets = [b["Properties"] for b in synthesis.of_type("AWS::S3::Bucket").values()]
    (versioned,) = [b for b in buckets if b.get("VersioningConfiguration")]
    assert versioned["VersioningConfiguration"] == {"Status": "Enabled"}
    (tiered,) = [
        b for b in buckets
        if any(r.get("Transitions") for r in b.get("LifecycleConfiguration", {}).get("Rules", []))
    ]  # fmt: skip
    classes = [
        t["StorageClass"] for t in tiered["LifecycleConfiguration"]["Rules"][0]["Transitions"]
    ]
    assert classes == ["STANDARD_IA", "GLACIER_IR"]


# -- Streaming --------------------------------------------------------------------------------


def test_metrics_stream_on_demand_and_encrypted(template: Template):
    template.has_resource_properties(
        "AWS::Kinesis::Stream",
        {
            "StreamModeDetails": {"StreamMode": "ON_DEMAND"},
            "StreamEncryption": {"EncryptionType": "KMS", "KeyId": "alias/aws/kinesis"},
        },
    )


def test_aggregator_reports_partial_failures_retries_bisects_and_parks(synthesis: Synthesis):
    (mapping,) = synthesis.of_type("AWS::Lambda::EventSourceMapping").values()
    properties = mapping["Properties"]
    assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert properties["BisectBatchOnFunctionError"] is True
    assert properties["MaximumRetryAttempts"] == 3
    (queue_id,) = (q for q in synthesis.of_type("AWS::SQS::Queue") if "Aggregator" in q)
    assert properties["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": [queue_id, "Arn"]
    }
    queue = synthesis.resources[queue_id]
    assert queue["Properties"]["SqsManagedSseEnabled"] is True


def test_every_outcome_is_delivered_to_the_data_lake(synthesis: Synthesis):
    (delivery,) = synthesis.of_type("AWS::KinesisFirehose::DeliveryStream").values()
    properties = delivery["Properties"]
    assert properties["DeliveryStreamType"] == "KinesisStreamAsSource"
    destination = properties["ExtendedS3DestinationConfiguration"]
    assert destination["CompressionFormat"] == "GZIP"
    assert destination["Prefix"].startswith("outcomes/")
    (lake,) = [
        key for key, bucket in synthesis.of_type("AWS::S3::Bucket").items()
        if any(rule.get("Transitions") for rule in
               bucket["Properties"].get("LifecycleConfiguration", {}).get("Rules", []))
    ]  # fmt: skip
    assert destination["BucketARN"] == {"Fn::GetAtt": [lake, "Arn"]}


# -- Seeding ----------------------------------------------------------------------------------


def test_zoo_uploaded_and_registry_written_at_deploy(synthesis: Synthesis):
    (upload,) = synthesis.of_type("Custom::CDKBucketDeployment").values()
    assert upload["Properties"]["Prune"] is False
    (write,) = synthesis.of_type("Custom::AWS").values()
    create = write["Properties"]["Create"]
    serialised = json.dumps(create)
    assert "batchWriteItem" in serialised
    for entry in CATALOGUE:
        assert artifact_key(entry) in serialised


def test_seed_layout_matches_the_registry_artifact_keys(synthesis: Synthesis):
    """The synth laid the zoo out under the keys the registry (and the grants) name."""
    uploaded = {p.relative_to(ZOO_UPLOAD_DIR).as_posix() for p in ZOO_UPLOAD_DIR.rglob("*.onnx")}
    assert uploaded == {artifact_key(entry) for entry in CATALOGUE}


# -- MEC fleet --------------------------------------------------------------------------------


def test_node_image_context_is_staged_with_its_dockerfile(synthesis: Synthesis):
    """`cdk deploy` builds from the staged copy: the Dockerfile it names must be in it."""
    manifest = json.loads(
        (synthesis.outdir / f"{synthesis.stack.stack_name}.assets.json").read_text()
    )
    (image,) = manifest["dockerImages"].values()
    source = image["source"]
    context = synthesis.outdir / source["directory"]
    assert source["platform"] == "linux/arm64"
    assert (context / source["dockerFile"]).is_file()
    assert (context / "src" / "mecroute" / "mec" / "node.py").is_file()
    assert not (context / ".venv").exists()


def test_vpc_has_flow_logs_and_gateway_endpoints(template: Template):
    template.resource_count_is("AWS::EC2::VPC", 1)
    template.has_resource_properties("AWS::EC2::FlowLog", {"TrafficType": "ALL"})
    template.resource_count_is("AWS::EC2::VPCEndpoint", 2)


def test_cluster_has_container_insights(template: Template):
    template.has_resource_properties(
        "AWS::ECS::Cluster",
        {"ClusterSettings": [{"Name": "containerInsights", "Value": "enabled"}]},
    )


def nodes_only(resources: dict[str, Any]) -> dict[str, Any]:
    """The MEC nodes' resources (the edge gateways share the cluster: tests/infra/
    test_edge_gateways.py)."""
    return {name: r for name, r in resources.items() if name.startswith("MecFleet")}


def test_one_private_fargate_service_per_site_in_cloud_map(synthesis: Synthesis):
    services = nodes_only(synthesis.of_type("AWS::ECS::Service"))
    assert len(services) == len(CONFIG.mec_sites)
    for service in services.values():
        properties = service["Properties"]
        assert properties["LaunchType"] == "FARGATE"
        network = properties["NetworkConfiguration"]["AwsvpcConfiguration"]
        assert network["AssignPublicIp"] == "DISABLED"
        assert len(properties["ServiceRegistries"]) == 1
    names = {
        s["Properties"]["Name"]
        for s in nodes_only(synthesis.of_type("AWS::ServiceDiscovery::Service")).values()
    }
    assert names == {site.node_id for site in CONFIG.mec_sites}
    synthesis.template.resource_count_is("AWS::ServiceDiscovery::PrivateDnsNamespace", 1)


def test_each_task_runs_its_site_profile_on_arm64_with_logs(synthesis: Synthesis):
    tasks = [
        t["Properties"] for t in nodes_only(synthesis.of_type("AWS::ECS::TaskDefinition")).values()
    ]
    profiles = set()
    for task in tasks:
        assert task["RuntimePlatform"]["CpuArchitecture"] == "ARM64"
        (container,) = task["ContainerDefinitions"]
        assert container["LogConfiguration"]["LogDriver"] == "awslogs"
        environment = {e["Name"]: e["Value"] for e in container["Environment"]}
        profiles.add((environment["MEC_NODE_ID"], environment["MEC_PROFILE"]))
        # No shared endpoint: each task registers its own address as `<site>-<task id>`.
        assert "MEC_NODE_ENDPOINT" not in environment
        # Its own site's two key secrets, nobody else's.
        keys = json.loads(environment["MEC_NODE_KEYS"])
        site = environment["MEC_NODE_ID"]
        assert {scope: list(names) for scope, names in keys.items()} == {
            "infer": [site],
            "control": [site],
        }
        assert "/livez" in json.dumps(container["HealthCheck"]["Command"])
    assert profiles == {(site.node_id, site.site) for site in CONFIG.mec_sites}


def role_statements(synthesis: Synthesis, role_key: str) -> list[dict[str, Any]]:
    return [
        statement
        for resource in synthesis.of_type("AWS::IAM::Policy").values()
        if {"Ref": role_key} in resource["Properties"]["Roles"]
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
    ]


def secrets_read(synthesis: Synthesis, role_key: str) -> set[str]:
    """The node key secrets (`<site>/<scope>`) a role may read."""
    names = {
        json.dumps({"Ref": key}): secret["Properties"]["Name"].split("/mec-node/")[1]
        for key, secret in synthesis.of_type("AWS::SecretsManager::Secret").items()
    }
    return {
        names[json.dumps(resource)]
        for statement in role_statements(synthesis, role_key)
        if "secretsmanager:GetSecretValue" in as_list(statement["Action"])
        for resource in as_list(statement["Resource"])
    }


def test_two_generated_keys_per_site_in_secrets_manager(synthesis: Synthesis):
    secrets = synthesis.of_type("AWS::SecretsManager::Secret").values()
    names = {secret["Properties"]["Name"].split("/mec-node/")[1] for secret in secrets}
    assert names == {f"{s.node_id}/{scope}" for s in CONFIG.mec_sites for scope in SCOPES}
    for secret in secrets:
        generated = secret["Properties"]["GenerateSecretString"]
        assert generated["PasswordLength"] == 64
        assert "SecretString" not in secret["Properties"]  # never in the template


@pytest.mark.parametrize("agent", ["resource", "cache", "execute"])
def test_each_node_caller_reads_only_its_scope_of_key(synthesis: Synthesis, agent: str):
    scope = BY_NAME[agent].node_key
    fn = agent_function(synthesis, agent)["Properties"]
    variables = fn["Environment"]["Variables"]
    keys = json.loads(variables["MEC_NODE_KEYS"])
    role = fn["Role"]["Fn::GetAtt"][0]

    assert set(keys) == {scope}
    assert set(keys[scope]) == {site.node_id for site in CONFIG.mec_sites}
    assert secrets_read(synthesis, role) == {f"{s.node_id}/{scope}" for s in CONFIG.mec_sites}
    assert variables["MEC_NODE_NETWORKS"]


def test_a_node_task_writes_only_its_own_sites_items(synthesis: Synthesis):
    tasks = nodes_only(synthesis.of_type("AWS::ECS::TaskDefinition")).values()
    for task in tasks:
        (container,) = task["Properties"]["ContainerDefinitions"]
        site = {e["Name"]: e["Value"] for e in container["Environment"]}["MEC_NODE_ID"]
        role = task["Properties"]["TaskRoleArn"]["Fn::GetAtt"][0]
        writes = [
            statement
            for statement in role_statements(synthesis, role)
            if "dynamodb:PutItem" in as_list(statement["Action"])
        ]
        assert writes
        for statement in writes:
            condition = statement["Condition"]["ForAllValues:StringLike"]
            assert condition["dynamodb:LeadingKeys"] == [site, f"{site}-*"]
        assert secrets_read(synthesis, role) == {f"{site}/infer", f"{site}/control"}


def test_each_site_scales_on_cpu(synthesis: Synthesis):
    targets = nodes_only(synthesis.of_type("AWS::ApplicationAutoScaling::ScalableTarget")).values()
    assert sorted(t["Properties"]["MaxCapacity"] for t in targets) == sorted(
        site.max_tasks for site in CONFIG.mec_sites
    )
    policies = nodes_only(synthesis.of_type("AWS::ApplicationAutoScaling::ScalingPolicy"))
    assert len(policies) == len(CONFIG.mec_sites)
    for policy in policies.values():
        tracking = policy["Properties"]["TargetTrackingScalingPolicyConfiguration"]
        assert tracking["PredefinedMetricSpecification"]["PredefinedMetricType"] == (
            "ECSServiceAverageCPUUtilization"
        )


def test_nodes_accept_traffic_only_from_the_agents_and_the_gateways(synthesis: Synthesis):
    rules = [r["Properties"] for r in synthesis.of_type("AWS::EC2::SecurityGroupIngress").values()]
    to_nodes = [r for r in rules if r["FromPort"] == 8080]
    sources = {r["SourceSecurityGroupId"]["Fn::GetAtt"][0] for r in to_nodes}
    assert {s.split("SecurityGroup")[0] for s in sources} == {"MecFleetAgents", "EdgeGateways"}
    for rule in rules:
        assert "SourceSecurityGroupId" in rule  # no CIDR anywhere
        assert rule["FromPort"] == rule["ToPort"]
    for group in synthesis.of_type("AWS::EC2::SecurityGroup").values():
        assert "SecurityGroupIngress" not in group["Properties"]


# -- Observability ----------------------------------------------------------------------------


def test_dashboard_shows_requests_latency_fallbacks_errors_and_cost(synthesis: Synthesis):
    (dashboard,) = synthesis.of_type("AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for metric in ("Requests", "Latency", "CostUsd", "SlaMet", "Fallbacks", "Failures",
                   "Rejections", "HealthyMecNodes", "ExecutionsFailed",
                   "RoutingOverhead"):  # fmt: skip
        assert f'\\"{metric}\\"' in body, metric


def test_routing_overhead_alarm_watches_the_worst_tier_p95(synthesis: Synthesis):
    (alarm,) = (
        a["Properties"]
        for a in synthesis.of_type("AWS::CloudWatch::Alarm").values()
        if "routing overhead" in a["Properties"]["AlarmDescription"]
    )
    assert alarm["Threshold"] == CONFIG.alarm_routing_overhead_p95_ms
    (expression,) = (m for m in alarm["Metrics"] if "Expression" in m)
    assert expression["Expression"].startswith("MAX(")
    stats = [m["MetricStat"] for m in alarm["Metrics"] if "MetricStat" in m]
    assert {s["Metric"]["MetricName"] for s in stats} == {"RoutingOverhead"}
    assert {s["Stat"] for s in stats} == {"p95"}
    assert len(stats) == 3


def test_alarms_page_the_encrypted_topic(synthesis: Synthesis):
    alarms = synthesis.of_type("AWS::CloudWatch::Alarm")
    # failed executions, p99 latency per tier, routing overhead, missing heartbeats, one per
    # site, the two DLQs, API 5xx, each site's edge gateway: queue depth and snapshot age, and
    # the canaries': each agent's new version's error rate and duration, the pipeline's failures
    gateway_sites = {site.site for site in CONFIG.mec_sites}
    canaries = 2 * len(AGENTS) + 1
    expected = 1 + 3 + 1 + 1 + len(CONFIG.mec_sites) + 2 + 1 + 2 * len(gateway_sites) + canaries
    assert len(alarms) == expected
    (topic_id,) = synthesis.of_type("AWS::SNS::Topic")
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic_id}]
    (topic,) = synthesis.of_type("AWS::SNS::Topic").values()
    key_id = topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
    key = synthesis.of_type("AWS::KMS::Key")[key_id]
    assert key["Properties"]["EnableKeyRotation"] is True


def test_latency_alarms_use_the_configured_slas(synthesis: Synthesis):
    thresholds = {}
    for alarm in synthesis.of_type("AWS::CloudWatch::Alarm").values():
        (query,) = alarm["Properties"].get("Metrics", [{}])[:1] or [{}]
        metric = query.get("MetricStat", {}).get("Metric", {})
        if metric.get("MetricName") == "Latency" and query["MetricStat"]["Stat"] == "p99":
            dimensions = {d["Name"]: d["Value"] for d in metric["Dimensions"]}
            thresholds[dimensions["Tier"]] = alarm["Properties"]["Threshold"]
    assert thresholds == CONFIG.alarm_latency_sla_ms


# -- IAM --------------------------------------------------------------------------------------


def test_no_iam_statement_grants_a_wildcard_action(synthesis: Synthesis):
    found = statements(synthesis)
    assert len(found) > 50
    for statement in found:
        for action in as_list(statement["Action"]):
            assert action != "*", statement
            assert not action.endswith(":*"), statement


def data_actions(synthesis: Synthesis, spec: Function) -> set[tuple[str, str]]:
    """(action, resource kind) on data stores granted to the role of `spec`'s function."""
    (fn,) = (
        f for f in ours(synthesis).values() if f["Properties"]["Description"] == spec.description
    )
    role = fn["Properties"]["Role"]["Fn::GetAtt"][0]
    granted = set()
    for resource in synthesis.of_type("AWS::IAM::Policy").values():
        if {"Ref": role} not in resource["Properties"]["Roles"]:
            continue
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
            where = json.dumps(statement["Resource"])
            kind = "index" if "/index/" in where else "item"
            for action in as_list(statement["Action"]):
                if action.split(":")[0] in {"dynamodb", "kinesis", "s3"}:
                    granted.add((action, kind))
    return granted


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda spec: spec.name)
def test_each_function_gets_exactly_the_data_access_its_manifest_names(
    synthesis: Synthesis, spec: Function
):
    expected = {
        (action, "index" if access.index else "item")
        for access in spec.access
        for action in access.actions
    }
    granted = data_actions(synthesis, spec)
    if spec.trigger == "stream":  # the event source mapping's own reads of its stream
        granted = {(action, kind) for action, kind in granted if not action.startswith("kinesis:")}
    assert granted == expected


def test_no_table_grant_reaches_every_index(synthesis: Synthesis):
    for statement in statements(synthesis):
        assert "/index/*" not in json.dumps(statement["Resource"]), statement
