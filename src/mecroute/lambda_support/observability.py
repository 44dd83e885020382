"""Logger, Tracer and Metrics, created once for every agent."""

import warnings

from aws_lambda_powertools import Logger, Metrics, Tracer

# Agents that add no metric on a given path are normal here, not a mistake worth a warning.
warnings.filterwarnings("ignore", message="No application metrics to publish")

SERVICE = "mecroute"
NAMESPACE = "MecRoute"

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
