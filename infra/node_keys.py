"""The MEC node keys: two secrets per site (infer, control) in Secrets Manager, 64 random hex
digits each, and the grants and environment that hand each role only the scope it needs."""

from __future__ import annotations

import json
import string

from aws_cdk import RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from mecroute.adapters.node_keys import KEYS_ENV, NETWORKS_ENV
from mecroute.domain.node_auth import SCOPES, Scope

# Everything but the hex digits 0-9a-f, so the generated string is the key in hex.
NOT_HEX = "".join(sorted(set(string.ascii_lowercase) - set("abcdef")))
KEY_HEX_DIGITS = 64


class NodeKeys(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, sites: list[str], stage: str):
        super().__init__(scope, construct_id)
        self.secrets: dict[Scope, dict[str, secretsmanager.Secret]] = {s: {} for s in SCOPES}
        self.names: dict[Scope, dict[str, str]] = {s: {} for s in SCOPES}
        for site in sites:
            for key_scope in SCOPES:
                name = f"mecroute-{stage}/mec-node/{site}/{key_scope}"
                self.names[key_scope][site] = name
                self.secrets[key_scope][site] = secretsmanager.Secret(
                    self,
                    f"{site}-{key_scope}",
                    secret_name=name,
                    description=f"MEC node key: {key_scope} requests to site {site}",
                    generate_secret_string=secretsmanager.SecretStringGenerator(
                        password_length=KEY_HEX_DIGITS,
                        exclude_uppercase=True,
                        exclude_punctuation=True,
                        include_space=False,
                        exclude_characters=NOT_HEX,
                    ),
                    removal_policy=RemovalPolicy.DESTROY,
                )

    def environment(self, networks: str, *scopes: Scope, site: str | None = None) -> dict[str, str]:
        """MEC_NODE_KEYS for a role holding `scopes` (of one `site`, or every site)."""
        names = {
            key_scope: {
                name: secret_name
                for name, secret_name in self.names[key_scope].items()
                if site is None or name == site
            }
            for key_scope in scopes
        }
        return {KEYS_ENV: json.dumps(names), NETWORKS_ENV: networks}

    def grant_read(self, grantee: iam.IGrantable, *scopes: Scope, site: str | None = None) -> None:
        for key_scope in scopes:
            for name, secret in self.secrets[key_scope].items():
                if site is None or name == site:
                    secret.grant_read(grantee)
