"""iac/'s generated inputs: the tables (from functions/tables.py) and the Kafka cluster's shape
(from functions/kafka_cluster.py), written by ``python -m local.deploy.package tables|kafka``
and checked current by the tests and by ``local.deploy.terraform`` before a plan.
"""

from __future__ import annotations

import json

from local.paths import REPO_ROOT

TABLES_TFVARS = REPO_ROOT / "iac" / "tables.auto.tfvars.json"
KAFKA_TFVARS = REPO_ROOT / "iac" / "kafka.auto.tfvars.json"


# --- tables -------------------------------------------------------------------------------

def tables_tfvars() -> dict:
    """Terraform input for iac/modules/dynamodb, generated from functions/tables.py."""
    from functions.tables import ALL_TABLES

    out = {}
    for table in ALL_TABLES:
        out[table.logical] = {
            "hash_key": table.hash_key[0],
            "range_key": table.range_key[0] if table.range_key else None,
            "attributes": [
                {"name": a["AttributeName"], "type": a["AttributeType"]} for a in table.attribute_definitions()
            ],
            "ttl_attribute": table.ttl_attribute,
            "global_secondary_indexes": [
                {
                    "name": index.name,
                    "hash_key": index.hash_key[0],
                    "range_key": index.range_key[0] if index.range_key else None,
                    "projection_type": index.projection,
                }
                for index in table.indexes
            ],
        }
    return {"tables": out}


def render_tables_tfvars() -> str:
    # JSON has no comments and Terraform warns on unknown keys, so the "generated, do not
    # edit" note lives in the variable's description (iac/variables_operations.tf) and docs/deploy.md.
    return json.dumps(tables_tfvars(), indent=2, sort_keys=False) + "\n"


# --- the Kafka cluster's shape ----------------------------------------------------------------

def kafka_tfvars() -> dict:
    """Terraform input for iac/'s MSK cluster and network, from functions/kafka_cluster.py."""
    from functions import kafka_cluster as k

    return {
        "msk_broker_count": k.BROKERS,
        "az_count": k.AVAILABILITY_ZONES,
        "topic_replication_factor": k.CONTRACT.factor,
        "topic_min_insync_replicas": k.CONTRACT.min_insync,
        "topic_unclean_leader_election": k.CONTRACT.unclean_leader_election,
    }


def render_kafka_tfvars() -> str:
    return json.dumps(kafka_tfvars(), indent=2) + "\n"


# What `python -m local.deploy.package NAME` writes (and --check compares): iac/'s generated inputs.
GENERATED = {"tables": (TABLES_TFVARS, render_tables_tfvars), "kafka": (KAFKA_TFVARS, render_kafka_tfvars)}
