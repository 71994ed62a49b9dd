# Least privilege: one role per function, a task role and an execution role for the edge.
# No statement grants "*" actions; "*" resources only for actions that have no resource
# level (ec2:Describe*, xray:Put*, ecr:GetAuthorizationToken). MSK data-plane actions are
# scoped to the cluster, topic and group ARNs.
# Here: what the roles share (table grants, ARNs) and the trust policies; the roles are in
# roles_lambda.tf (the functions) and roles_ecs.tf (the edge).

locals {
  dynamodb_actions = {
    read = [
      "dynamodb:BatchGetItem",
      "dynamodb:ConditionCheckItem",
      "dynamodb:DescribeTable",
      "dynamodb:GetItem",
      "dynamodb:Query",
    ]
    # Change or delete existing items, never create them (the notifier: pushedSeq on members,
    # dead devices deleted).
    update = [
      "dynamodb:BatchGetItem",
      "dynamodb:ConditionCheckItem",
      "dynamodb:DeleteItem",
      "dynamodb:DescribeTable",
      "dynamodb:GetItem",
      "dynamodb:Query",
      "dynamodb:UpdateItem",
    ]
    readwrite = [
      "dynamodb:BatchGetItem",
      "dynamodb:BatchWriteItem",
      "dynamodb:ConditionCheckItem",
      "dynamodb:DeleteItem",
      "dynamodb:DescribeTable",
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:Query",
      "dynamodb:UpdateItem",
    ]
  }

  # One statement per (principal, table): actions by level, on the table and its indexes.
  table_statements = {
    for principal, tables in var.table_access : principal => [
      for logical, level in tables : {
        sid       = "Table${replace(title(replace(logical, "_", " ")), " ", "")}"
        actions   = local.dynamodb_actions[level]
        resources = [var.table_arns[logical], "${var.table_arns[logical]}/index/*"]
      }
    ]
  }

  # MSK IAM resource ARNs: cluster/<name>/<uuid> -> topic|group/<name>/<uuid>/<name>
  chat_topic_arn = "${replace(var.msk_cluster_arn, ":cluster/", ":topic/")}/${var.chat_topic}"
  dlq_topic_arn  = "${replace(var.msk_cluster_arn, ":cluster/", ":topic/")}/${var.dlq_topic}"
  group_arn      = "${replace(var.msk_cluster_arn, ":cluster/", ":group/")}/${var.consumer_group}"
  push_group_arn = "${replace(var.msk_cluster_arn, ":cluster/", ":group/")}/${var.push_consumer_group}"

  # What a producer of the chat topic may do (the edge; the HTTP function's edits, deletes and
  # reactions): connect as an idempotent producer and write that topic, no other.
  chat_producer_statements = [
    {
      sid       = "MskConnectIdempotentProducer"
      actions   = ["kafka-cluster:Connect", "kafka-cluster:WriteDataIdempotently"]
      resources = [var.msk_cluster_arn]
    },
    {
      sid       = "MskWriteChatTopic"
      actions   = ["kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"]
      resources = [local.chat_topic_arn]
    },
  ]

  # The functions fed by a Kafka event source mapping on the chat topic, each in its own
  # consumer group: the chat worker and the push notifier.
  chat_consumer_groups = {
    worker   = local.group_arn
    notifier = local.push_group_arn
  }

  # ENIs of VPC functions and of the ESM's pollers, in this account and region only.
  ec2_scope = "arn:${var.partition}:ec2:${var.region}:${var.account_id}:*/*"

  ecr_match = try(regex("^([0-9]{12})\\.dkr\\.ecr\\.([a-z0-9-]+)\\.amazonaws\\.com(?:\\.cn)?/([^:@]+)", var.edge_image), null)
  ecr_repository_arn = local.ecr_match == null ? null : (
    "arn:${var.partition}:ecr:${local.ecr_match[1]}:${local.ecr_match[0]}:repository/${local.ecr_match[2]}"
  )
}

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [var.account_id]
    }
  }
}

data "aws_iam_policy_document" "ecs_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [var.account_id]
    }
  }
}
