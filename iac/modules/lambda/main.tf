# The worker (Kafka event source mapping) and the HTTP function, one zip for both.

locals {
  runtime     = "python3.12"
  source_hash = filebase64sha256(var.zip_path)

  on_failure_destination = var.esm_on_failure == "kafka" ? "kafka://${var.dlq_topic}" : aws_sqs_queue.dlq[0].arn

  # The two functions share everything (zip, runtime, network, tracing, logging format)
  # except what is listed here.
  functions = {
    worker = {
      function_name        = "${var.name}-chat-worker"
      description          = "Kafka batches -> DynamoDB (exactly once) -> deliveries to the edges"
      role                 = var.worker_role_arn
      handler              = "functions.chat_worker.handler"
      memory_size          = var.worker_memory_mb
      timeout              = var.worker_timeout_s
      reserved_concurrency = var.worker_reserved_concurrency
      environment          = var.worker_environment
      log_group            = var.worker_log_group
    }
    http = {
      function_name        = "${var.name}-http-api"
      description          = "HTTP API v2: rooms, history, read marks; edits, deletes, reactions via Kafka"
      role                 = var.http_role_arn
      handler              = "functions.http.api.handler"
      memory_size          = var.http_memory_mb
      timeout              = var.http_timeout_s
      reserved_concurrency = var.http_reserved_concurrency
      environment          = var.http_environment
      log_group            = var.http_log_group
    }
  }
}

# AWS validates the role's permissions when a VPC function or a mapping is created, so
# both wait for the policies (and the mapping for the topics).
resource "terraform_data" "prerequisites" {
  input = concat(var.policies_ready, [var.msk_ready])
}

resource "aws_lambda_function" "function" {
  #checkov:skip=CKV_AWS_116:Both are invoked synchronously: the worker by the event source mapping, whose on_failure destination is the dead-letter path (a function DLQ only applies to async invokes); the HTTP function by API Gateway, whose errors go back to the client as 5xx.
  #checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile outside this stack; the zip is built reproducibly by local/deploy/package.py and its hash pinned by source_code_hash.
  for_each = local.functions

  function_name                  = each.value.function_name
  description                    = each.value.description
  role                           = each.value.role
  runtime                        = local.runtime
  architectures                  = [var.architecture]
  handler                        = each.value.handler
  filename                       = var.zip_path
  source_code_hash               = local.source_hash
  memory_size                    = each.value.memory_size
  timeout                        = each.value.timeout
  reserved_concurrent_executions = each.value.reserved_concurrency
  kms_key_arn                    = var.kms_key_arn

  environment {
    variables = each.value.environment
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
    log_group  = each.value.log_group
  }

  depends_on = [terraform_data.prerequisites]
}

# Both functions were separate resources before; their state moves with them.
moved {
  from = aws_lambda_function.worker
  to   = aws_lambda_function.function["worker"]
}

moved {
  from = aws_lambda_function.http
  to   = aws_lambda_function.function["http"]
}

# Metadata-only dead-letter queue, when the Kafka-topic destination is not wanted.
resource "aws_sqs_queue" "dlq" {
  count = var.esm_on_failure == "sqs" ? 1 : 0

  name                      = "${var.name}-chat-dlq"
  message_retention_seconds = 1209600 # 14 days, the maximum
  kms_master_key_id         = var.kms_key_arn
}

# The Kafka event source mapping. Provisioned pollers: AWS requires them for a Kafka-topic
# destination and configures retries/bisect/partial batches in that mode.
resource "aws_lambda_event_source_mapping" "chat" {
  function_name     = aws_lambda_function.function["worker"].arn
  event_source_arn  = var.msk_cluster_arn
  topics            = [var.chat_topic]
  starting_position = var.esm_starting_position
  enabled           = true

  batch_size                         = var.esm_batch_size
  maximum_batching_window_in_seconds = var.esm_batching_window_s

  # A poison record must not block its partition: bounded retries, bisect to isolate it,
  # report per-record failures, then the on-failure destination.
  maximum_retry_attempts         = var.esm_max_retry_attempts
  maximum_record_age_in_seconds  = var.esm_max_record_age_s
  bisect_batch_on_function_error = true
  function_response_types        = ["ReportBatchItemFailures"]

  destination_config {
    on_failure {
      destination_arn = local.on_failure_destination
    }
  }

  amazon_managed_kafka_event_source_config {
    consumer_group_id = var.consumer_group
  }

  provisioned_poller_config {
    minimum_pollers = var.esm_min_pollers
    maximum_pollers = var.esm_max_pollers
  }

  metrics_config {
    metrics = ["EventCount"]
  }

  depends_on = [terraform_data.prerequisites]

  lifecycle {
    precondition {
      condition     = var.esm_min_pollers <= var.esm_max_pollers
      error_message = "esm_min_pollers must not exceed esm_max_pollers."
    }
  }
}
