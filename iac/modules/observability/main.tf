# Log groups (KMS, retention) and the alarms someone should be woken up for.

locals {
  log_groups = {
    worker   = "/aws/lambda/${var.name}-chat-worker"
    http     = "/aws/lambda/${var.name}-http-api"
    notifier = "/aws/lambda/${var.name}-notifier"
    edge     = "/ecs/${var.name}/edge"
    api      = "/aws/apigateway/${var.name}-http"
    msk      = "/aws/msk/${var.name}"
  }
  alarm_actions = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_log_group" "this" {
  for_each = local.log_groups

  name              = each.value
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_sns_topic" "alarms" {
  name              = "${var.name}-alarms"
  kms_master_key_id = var.kms_key_arn
}

resource "aws_sns_topic_subscription" "email" {
  count = var.alarm_email == "" ? 0 : 1

  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

# --- Kafka: the worker falls behind ----------------------------------------------------------

resource "aws_cloudwatch_metric_alarm" "consumer_lag" {
  alarm_name          = "${var.name}-consumer-lag"
  alarm_description   = "The chat worker's consumer group lags on ${var.chat_topic}: messages are accepted but not delivered. Check worker errors/throttles and the ESM state."
  namespace           = "AWS/Kafka"
  metric_name         = "MaxOffsetLag"
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  threshold           = var.consumer_lag_threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  dimensions = {
    "Cluster Name"   = var.msk_cluster_name
    "Consumer Group" = var.consumer_group
    "Topic"          = var.chat_topic
  }
}

# --- Lambda: anything above zero wakes someone ------------------------------------------------
# Sum over 5 minutes, alarm on > 0: records dead-lettered, dead letters that could not be
# written, function errors, throttles.

locals {
  lambda_alarms = {
    dead-letters = {
      description = "The event source mapping sent records to its on-failure destination (${var.esm_on_failure}): they were not stored. Inspect and replay them (docs/deploy.md)."
      metric      = "OnFailureDestinationDeliveredEventCount"
      dimensions  = { EventSourceMappingUUID = var.esm_uuid }
    }
    dead-letter-delivery-failures = {
      description = "Lambda could not write failed records to the on-failure destination."
      metric      = "DestinationDeliveryFailures"
      dimensions  = { FunctionName = var.worker_function_name }
    }
    worker-errors = {
      description = "${var.worker_function_name} raised errors (the worker's batches are retried, then dead-lettered)."
      metric      = "Errors"
      dimensions  = { FunctionName = var.worker_function_name }
    }
    http-errors = {
      description = "${var.http_function_name} raised errors."
      metric      = "Errors"
      dimensions  = { FunctionName = var.http_function_name }
    }
    worker-throttles = {
      description = "The chat worker is throttled (account concurrency?)."
      metric      = "Throttles"
      dimensions  = { FunctionName = var.worker_function_name }
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "lambda" {
  for_each = local.lambda_alarms

  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = each.value.description
  namespace           = "AWS/Lambda"
  metric_name         = each.value.metric
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  dimensions          = each.value.dimensions
}

# --- Dead letters in SQS (when that destination is chosen) ---------------------------------------

resource "aws_cloudwatch_metric_alarm" "dlq_depth" {
  count = var.esm_on_failure == "sqs" ? 1 : 0

  alarm_name          = "${var.name}-dlq-depth"
  alarm_description   = "Failure records wait in the SQS dead-letter queue."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions

  dimensions = {
    QueueName = var.dlq_queue_name
  }
}

# --- HTTP API ------------------------------------------------------------------------------

resource "aws_cloudwatch_metric_alarm" "http_5xx" {
  alarm_name          = "${var.name}-http-5xx"
  alarm_description   = "The HTTP API answers 5xx."
  namespace           = "AWS/ApiGateway"
  metric_name         = "5xx"
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.http_5xx_threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions

  dimensions = {
    ApiId = var.api_id
    Stage = "$default"
  }
}

# --- Edges ---------------------------------------------------------------------------------

resource "aws_cloudwatch_metric_alarm" "edge_connections" {
  alarm_name          = "${var.name}-edge-connections"
  alarm_description   = "Open WebSocket connections through the NLB are above plan: raise edge_max_count / check for reconnect storms."
  namespace           = "AWS/NetworkELB"
  metric_name         = "ActiveFlowCount"
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.edge_connections_threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions

  dimensions = {
    LoadBalancer = var.nlb_arn_suffix
  }
}

resource "aws_cloudwatch_metric_alarm" "edge_unhealthy" {
  alarm_name          = "${var.name}-edge-unhealthy"
  alarm_description   = "Edges fail their /healthz check."
  namespace           = "AWS/NetworkELB"
  metric_name         = "UnHealthyHostCount"
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 3
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions

  dimensions = {
    LoadBalancer = var.nlb_arn_suffix
    TargetGroup  = var.target_group_suffix
  }
}

resource "aws_cloudwatch_metric_alarm" "edge_healthy" {
  alarm_name          = "${var.name}-edge-below-minimum"
  alarm_description   = "Fewer healthy edges than edge_min_count."
  namespace           = "AWS/NetworkELB"
  metric_name         = "HealthyHostCount"
  statistic           = "Minimum"
  period              = 60
  evaluation_periods  = 3
  threshold           = var.edge_min_count
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = local.alarm_actions

  dimensions = {
    LoadBalancer = var.nlb_arn_suffix
    TargetGroup  = var.target_group_suffix
  }
}
