# MSK with IAM authentication and TLS in transit. Provisioned (default) or serverless.

locals {
  provisioned = var.mode == "provisioned"

  # Brokers never create topics on first use; acks=all needs min_insync_replicas in-sync
  # copies, so an acknowledged message survives the loss of one broker. The numbers come
  # from functions/kafka_cluster.py (the local 3-broker cluster uses the same).
  server_properties = <<-EOT
    auto.create.topics.enable=false
    default.replication.factor=${var.topic_replication_factor}
    min.insync.replicas=${var.min_insync_replicas}
    unclean.leader.election.enable=${var.unclean_leader_election}
    num.partitions=${var.partitions}
  EOT
}

resource "aws_msk_configuration" "this" {
  count = local.provisioned ? 1 : 0

  name              = "${var.name}-kafka"
  kafka_versions    = [var.kafka_version]
  server_properties = local.server_properties

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_msk_cluster" "this" {
  count = local.provisioned ? 1 : 0

  cluster_name           = var.name
  kafka_version          = var.kafka_version
  number_of_broker_nodes = var.broker_count
  enhanced_monitoring    = "DEFAULT" # MaxOffsetLag per consumer group and topic is in DEFAULT

  broker_node_group_info {
    instance_type   = var.broker_instance_type
    client_subnets  = var.subnet_ids
    security_groups = [var.security_group_id]

    storage_info {
      ebs_storage_info {
        volume_size = var.broker_volume_gb
      }
    }

    connectivity_info {
      public_access {
        type = "DISABLED"
      }
    }
  }

  client_authentication {
    unauthenticated = false

    sasl {
      iam   = true
      scram = false
    }
  }

  encryption_info {
    encryption_at_rest_kms_key_arn = var.kms_key_arn

    encryption_in_transit {
      client_broker = "TLS"
      in_cluster    = true
    }
  }

  configuration_info {
    arn      = aws_msk_configuration.this[0].arn
    revision = aws_msk_configuration.this[0].latest_revision
  }

  logging_info {
    broker_logs {
      cloudwatch_logs {
        enabled   = true
        log_group = var.log_group_name
      }
    }
  }

  lifecycle {
    precondition {
      condition     = var.broker_count % length(var.subnet_ids) == 0
      error_message = "msk_broker_count must be a multiple of the number of private subnets."
    }
    precondition {
      condition     = var.topic_replication_factor <= var.broker_count
      error_message = "topic_replication_factor cannot exceed msk_broker_count."
    }
    precondition {
      condition     = var.min_insync_replicas < var.topic_replication_factor
      error_message = "topic_min_insync_replicas must be below topic_replication_factor (or one broker down stops every write)."
    }
  }
}

resource "aws_msk_serverless_cluster" "this" {
  count = local.provisioned ? 0 : 1

  cluster_name = var.name

  vpc_config {
    subnet_ids         = var.subnet_ids
    security_group_ids = [var.security_group_id]
  }

  client_authentication {
    sasl {
      iam {
        enabled = true
      }
    }
  }
}

locals {
  cluster_arn  = local.provisioned ? aws_msk_cluster.this[0].arn : aws_msk_serverless_cluster.this[0].arn
  cluster_name = local.provisioned ? aws_msk_cluster.this[0].cluster_name : aws_msk_serverless_cluster.this[0].cluster_name
  bootstrap    = local.provisioned ? aws_msk_cluster.this[0].bootstrap_brokers_sasl_iam : aws_msk_serverless_cluster.this[0].bootstrap_brokers_sasl_iam
}

# Topics as code (provisioned clusters; MSK's topic API does not cover serverless, where
# docs/deploy.md gives the one-off commands).
resource "aws_msk_topic" "chat" {
  count = local.provisioned ? 1 : 0

  cluster_arn        = aws_msk_cluster.this[0].arn
  name               = var.chat_topic
  partition_count    = var.partitions
  replication_factor = var.topic_replication_factor

  configs = jsonencode({
    "min.insync.replicas" = tostring(var.min_insync_replicas)
    "retention.ms"        = tostring(7 * 24 * 3600 * 1000)
    "cleanup.policy"      = "delete"
  })
}

resource "aws_msk_topic" "dlq" {
  count = local.provisioned ? 1 : 0

  cluster_arn        = aws_msk_cluster.this[0].arn
  name               = var.dlq_topic
  partition_count    = 1 # failures in the order they were given up on (as the local stack)
  replication_factor = var.topic_replication_factor

  configs = jsonencode({
    "min.insync.replicas" = tostring(var.min_insync_replicas)
    "retention.ms"        = tostring(14 * 24 * 3600 * 1000)
    "cleanup.policy"      = "delete"
  })
}
