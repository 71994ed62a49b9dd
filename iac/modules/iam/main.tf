# Least privilege: one role per function, a task role and an execution role for the edge.
# No statement grants "*" actions; "*" resources only for actions that have no resource
# level (ec2:Describe*, xray:Put*, ecr:GetAuthorizationToken). MSK data-plane actions are
# scoped to the cluster, topic and group ARNs.

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

# --- chat topic consumers (local.chat_consumer_groups) -------------------------------------
# What each needs: its logs and tables, the chat topic read in its own group, ENIs in the
# VPC (the function's and the mapping pollers'), the key, X-Ray.

data "aws_iam_policy_document" "chat_consumer" {
  for_each = local.chat_consumer_groups

  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${var.log_group_arns[each.key]}:*"]
  }

  dynamic "statement" {
    for_each = local.table_statements[each.key]
    content {
      sid       = statement.value.sid
      actions   = statement.value.actions
      resources = statement.value.resources
    }
  }

  statement {
    sid       = "MskControlPlane"
    actions   = ["kafka:DescribeClusterV2", "kafka:GetBootstrapBrokers"]
    resources = [var.msk_cluster_arn]
  }

  statement {
    sid       = "MskConnect"
    actions   = ["kafka-cluster:Connect", "kafka-cluster:DescribeClusterDynamicConfiguration"]
    resources = [var.msk_cluster_arn]
  }

  statement {
    sid       = "MskReadChatTopic"
    actions   = ["kafka-cluster:DescribeTopic", "kafka-cluster:ReadData"]
    resources = [local.chat_topic_arn]
  }

  statement {
    sid       = "MskConsumerGroup"
    actions   = ["kafka-cluster:DescribeGroup", "kafka-cluster:AlterGroup"]
    resources = [each.value]
  }

  statement {
    sid = "VpcDescribe"
    actions = [
      "ec2:DescribeNetworkInterfaces",
      "ec2:DescribeSecurityGroups",
      "ec2:DescribeSubnets",
      "ec2:DescribeVpcs",
    ]
    resources = ["*"] # Describe* has no resource-level permissions
  }

  statement {
    sid = "VpcNetworkInterfaces"
    actions = [
      "ec2:AssignPrivateIpAddresses",
      "ec2:CreateNetworkInterface",
      "ec2:DeleteNetworkInterface",
      "ec2:UnassignPrivateIpAddresses",
    ]
    resources = [local.ec2_scope]
  }

  statement {
    sid       = "Kms"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }

  statement {
    sid       = "XRay"
    actions   = ["xray:PutTelemetryRecords", "xray:PutTraceSegments"]
    resources = ["*"] # X-Ray has no resource-level permissions
  }
}

# --- chat worker (Kafka event source mapping -> DynamoDB -> edges) -------------------------

data "aws_iam_policy_document" "worker" {
  source_policy_documents = [data.aws_iam_policy_document.chat_consumer["worker"].json]

  dynamic "statement" {
    for_each = var.esm_on_failure == "kafka" ? [local.dlq_topic_arn] : []
    content {
      sid       = "MskWriteDeadLetterTopic"
      actions   = ["kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"]
      resources = [statement.value]
    }
  }

  dynamic "statement" {
    for_each = var.esm_on_failure == "sqs" ? [var.dlq_queue_arn] : []
    content {
      sid       = "DeadLetterQueue"
      actions   = ["sqs:SendMessage"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role" "worker" {
  name_prefix        = "${var.name}-worker-"
  description        = "tidings chat worker Lambda"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

resource "aws_iam_role_policy" "worker" {
  name   = "worker"
  role   = aws_iam_role.worker.id
  policy = data.aws_iam_policy_document.worker.json
}

# --- push notifier (its own mapping on the chat topic -> FCM, APNs, Web Push) ----------------

data "aws_iam_policy_document" "notifier" {
  source_policy_documents = [data.aws_iam_policy_document.chat_consumer["notifier"].json]

  statement {
    sid       = "PushCredentials"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [var.push_credentials_secret_arn]
  }
}

resource "aws_iam_role" "notifier" {
  name_prefix        = "${var.name}-notifier-"
  description        = "tidings push notifier Lambda"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

resource "aws_iam_role_policy" "notifier" {
  name   = "notifier"
  role   = aws_iam_role.notifier.id
  policy = data.aws_iam_policy_document.notifier.json
}

# --- HTTP API function ---------------------------------------------------------------------

data "aws_iam_policy_document" "http" {
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${var.log_group_arns["http"]}:*"]
  }

  dynamic "statement" {
    for_each = local.table_statements["http"]
    content {
      sid       = statement.value.sid
      actions   = statement.value.actions
      resources = statement.value.resources
    }
  }

  statement {
    sid = "VpcDescribe"
    actions = [
      "ec2:DescribeNetworkInterfaces",
      "ec2:DescribeSubnets",
    ]
    resources = ["*"] # Describe* has no resource-level permissions
  }

  statement {
    sid = "VpcNetworkInterfaces"
    actions = [
      "ec2:AssignPrivateIpAddresses",
      "ec2:CreateNetworkInterface",
      "ec2:DeleteNetworkInterface",
      "ec2:UnassignPrivateIpAddresses",
    ]
    resources = [local.ec2_scope]
  }

  statement {
    sid       = "Kms"
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
  }

  statement {
    sid       = "XRay"
    actions   = ["xray:PutTelemetryRecords", "xray:PutTraceSegments"]
    resources = ["*"] # X-Ray has no resource-level permissions
  }
}

resource "aws_iam_role" "http" {
  name_prefix        = "${var.name}-http-"
  description        = "tidings HTTP API Lambda"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

resource "aws_iam_role_policy" "http" {
  name   = "http"
  role   = aws_iam_role.http.id
  policy = data.aws_iam_policy_document.http.json
}

# --- edge task (what the running edge may do) ----------------------------------------------

data "aws_iam_policy_document" "edge_task" {
  dynamic "statement" {
    for_each = local.table_statements["edge"]
    content {
      sid       = statement.value.sid
      actions   = statement.value.actions
      resources = statement.value.resources
    }
  }

  statement {
    sid       = "MskConnectIdempotentProducer"
    actions   = ["kafka-cluster:Connect", "kafka-cluster:WriteDataIdempotently"]
    resources = [var.msk_cluster_arn]
  }

  statement {
    sid       = "MskWriteChatTopic"
    actions   = ["kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"]
    resources = [local.chat_topic_arn]
  }

  # Backpressure: the edge reads how far the worker's consumer group is (committed offsets)
  # and never changes it (websocket_edge/pipeline_lag.py).
  statement {
    sid       = "MskDescribeWorkerGroup"
    actions   = ["kafka-cluster:DescribeGroup"]
    resources = [local.group_arn]
  }
}

resource "aws_iam_role" "edge_task" {
  name_prefix        = "${var.name}-edge-task-"
  description        = "tidings edge task (DynamoDB, produce to MSK)"
  assume_role_policy = data.aws_iam_policy_document.ecs_assume.json
}

resource "aws_iam_role_policy" "edge_task" {
  name   = "edge-task"
  role   = aws_iam_role.edge_task.id
  policy = data.aws_iam_policy_document.edge_task.json
}

# --- edge execution (what ECS needs to start the task) -------------------------------------

data "aws_iam_policy_document" "edge_execution" {
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${var.log_group_arns["edge"]}:*"]
  }

  statement {
    sid       = "DeliverySecret"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [var.delivery_secret_arn]
  }

  statement {
    sid       = "Kms"
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
  }

  dynamic "statement" {
    for_each = local.ecr_repository_arn == null ? [] : [local.ecr_repository_arn]
    content {
      sid = "PullEdgeImage"
      actions = [
        "ecr:BatchCheckLayerAvailability",
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer",
      ]
      resources = [statement.value]
    }
  }

  dynamic "statement" {
    for_each = local.ecr_repository_arn == null ? [] : [1]
    content {
      sid       = "EcrLogin"
      actions   = ["ecr:GetAuthorizationToken"]
      resources = ["*"] # GetAuthorizationToken has no resource-level permissions
    }
  }
}

resource "aws_iam_role" "edge_execution" {
  name_prefix        = "${var.name}-edge-exec-"
  description        = "ECS execution role of the tidings edge (pull, logs, secret)"
  assume_role_policy = data.aws_iam_policy_document.ecs_assume.json
}

resource "aws_iam_role_policy" "edge_execution" {
  name   = "edge-execution"
  role   = aws_iam_role.edge_execution.id
  policy = data.aws_iam_policy_document.edge_execution.json
}
