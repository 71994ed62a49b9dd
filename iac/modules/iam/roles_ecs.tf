# The edge's roles on ECS: the task role (what the running edge may do) and the execution
# role (what ECS needs to start it).

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

  dynamic "statement" {
    for_each = local.chat_producer_statements
    content {
      sid       = statement.value.sid
      actions   = statement.value.actions
      resources = statement.value.resources
    }
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
