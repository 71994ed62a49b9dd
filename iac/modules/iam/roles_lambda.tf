# The roles of the functions: the chat topic's consumers (worker, notifier) and the HTTP API.

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

  # Edits, deletes and reactions (functions/http/changes.py) go to the chat topic like the
  # edge's, so the worker applies them in room order, exactly once: produce only, that topic only.
  dynamic "statement" {
    for_each = local.chat_producer_statements
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
  description        = "tidings HTTP API Lambda (DynamoDB, produce message changes to MSK)"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

resource "aws_iam_role_policy" "http" {
  name   = "http"
  role   = aws_iam_role.http.id
  policy = data.aws_iam_policy_document.http.json
}
