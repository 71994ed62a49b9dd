# The notifier: a second Kafka event source mapping on the chat topic, in its own consumer
# group, calling functions.push.notifier.handler. It shares nothing with the chat worker's
# mapping, so a push outage (its batches retried until MaximumRecordAgeInSeconds) delays only
# pushes. The real push services are reached through the NAT; their credentials are one
# Secrets Manager secret whose value is set out of band (docs/deploy.md).

locals {
  group_arn      = "${replace(var.msk_cluster_arn, ":cluster/", ":group/")}/${var.consumer_group}"
  chat_topic_arn = "${replace(var.msk_cluster_arn, ":cluster/", ":topic/")}/${var.chat_topic}"
  ec2_scope      = "arn:${var.partition}:ec2:${var.region}:${var.account_id}:*/*"
}

resource "aws_secretsmanager_secret" "credentials" {
  #checkov:skip=CKV2_AWS_57:The FCM, APNs and VAPID keys are rotated at Google and Apple and put here by hand (docs/deploy.md).
  name_prefix             = "${var.name}-push-credentials-"
  description             = "Push credentials JSON: {fcm: service account, apns: {keyId, teamId, privateKey}, webpush: {vapidPrivateKey, subject}}."
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = 7
}

resource "aws_cloudwatch_log_group" "notifier" {
  name              = "/aws/lambda/${var.name}-notifier"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

data "aws_iam_policy_document" "assume" {
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

data "aws_iam_policy_document" "notifier" {
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.notifier.arn}:*"]
  }

  statement {
    sid       = "TablesRead"
    actions   = ["dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:Query"]
    resources = [var.table_arns["rooms"], var.table_arns["room_heads"], var.table_arns["messages"]]
  }

  statement {
    sid     = "TablesWrite" # pushedSeq on members; dead devices deleted
    actions = ["dynamodb:BatchGetItem", "dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem"]
    resources = [var.table_arns["members"], "${var.table_arns["members"]}/index/by_user",
    var.table_arns["devices"], "${var.table_arns["devices"]}/index/by_user"]
  }

  statement {
    sid       = "PushCredentials"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_secretsmanager_secret.credentials.arn]
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
    resources = [local.group_arn]
  }

  statement {
    sid       = "VpcDescribe"
    actions   = ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeVpcs"]
    resources = ["*"] # Describe* has no resource-level permissions
  }

  statement {
    sid       = "VpcNetworkInterfaces"
    actions   = ["ec2:AssignPrivateIpAddresses", "ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface", "ec2:UnassignPrivateIpAddresses"]
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

resource "aws_iam_role" "notifier" {
  name_prefix        = "${var.name}-notifier-"
  description        = "tidings push notifier Lambda"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

resource "aws_iam_role_policy" "notifier" {
  name   = "notifier"
  role   = aws_iam_role.notifier.id
  policy = data.aws_iam_policy_document.notifier.json
}

resource "aws_lambda_function" "notifier" {
  #checkov:skip=CKV_AWS_116:Invoked synchronously by its event source mapping; a push that cannot be sent is retried there, nothing to dead-letter.
  #checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile outside this stack; the zip is built reproducibly by local/package.py.
  #checkov:skip=CKV_AWS_115:Concurrency is bounded by the mapping's pollers (one per partition at most).
  function_name    = "${var.name}-notifier"
  description      = "Chat topic (own consumer group) -> push notifications to offline members"
  role             = aws_iam_role.notifier.arn
  runtime          = "python3.12"
  architectures    = [var.architecture]
  handler          = "functions.push.notifier.handler"
  filename         = var.zip_path
  source_code_hash = filebase64sha256(var.zip_path)
  memory_size      = var.memory_mb
  timeout          = var.timeout_s
  kms_key_arn      = var.kms_key_arn

  environment {
    variables = merge(var.environment, {
      TIDINGS_PUSH_CREDENTIALS    = "secretsmanager:${aws_secretsmanager_secret.credentials.arn}"
      TIDINGS_PUSH_CONSUMER_GROUP = var.consumer_group
    })
  }

  vpc_config {
    subnet_ids         = var.subnet_ids
    security_group_ids = [var.security_group_id]
  }

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.notifier.name
  }

  depends_on = [aws_iam_role_policy.notifier]
}

resource "aws_lambda_event_source_mapping" "notifier" {
  function_name     = aws_lambda_function.notifier.arn
  event_source_arn  = var.msk_cluster_arn
  topics            = [var.chat_topic]
  starting_position = "LATEST"
  enabled           = true

  batch_size                         = var.batch_size
  maximum_batching_window_in_seconds = 1

  # A push outage: the batch is retried (the handler raises) until the records are too old
  # to be worth a notification; the chat worker's mapping never waits for it.
  maximum_retry_attempts         = -1
  maximum_record_age_in_seconds  = var.max_record_age_s
  bisect_batch_on_function_error = false

  amazon_managed_kafka_event_source_config {
    consumer_group_id = var.consumer_group
  }

  depends_on = [aws_iam_role_policy.notifier, terraform_data.topics]
}

# The mapping waits for the topics (a module variable cannot be a depends_on target).
resource "terraform_data" "topics" {
  input = var.msk_ready
}
