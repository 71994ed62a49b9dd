# The notifier: a second Kafka event source mapping on the chat topic, in its own consumer
# group, calling functions.push.notifier.handler. It shares nothing with the chat worker's
# mapping, so a push outage (its batches retried until MaximumRecordAgeInSeconds) delays only
# pushes. The real push services are reached through the NAT; their credentials are one
# Secrets Manager secret whose value is set out of band (docs/deploy.md). Its role is in
# modules/iam, its log group in modules/observability, like the other functions'.

# AWS validates the role's permissions when a VPC function or a mapping is created, so
# both wait for the role's policy (modules/iam), and the mapping for the topics.
resource "terraform_data" "prerequisites" {
  input = [var.policy_ready, var.msk_ready]
}

resource "aws_secretsmanager_secret" "credentials" {
  #checkov:skip=CKV2_AWS_57:The FCM, APNs and VAPID keys are rotated at Google and Apple and put here by hand (docs/deploy.md).
  name_prefix             = "${var.name}-push-credentials-"
  description             = "Push credentials JSON: {fcm: service account, apns: {keyId, teamId, privateKey}, webpush: {vapidPrivateKey, subject}}."
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = 7
}

resource "aws_lambda_function" "notifier" {
  #checkov:skip=CKV_AWS_116:Invoked synchronously by its event source mapping; a push that cannot be sent is retried there, nothing to dead-letter.
  #checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile outside this stack; the zip is built reproducibly by local/deploy/package.py.
  #checkov:skip=CKV_AWS_115:Concurrency is bounded by the mapping's pollers (one per partition at most).
  function_name    = "${var.name}-notifier"
  description      = "Chat topic (own consumer group) -> push notifications to offline members"
  role             = var.role_arn
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
    log_group  = var.log_group_name
  }

  depends_on = [terraform_data.prerequisites]
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

  depends_on = [terraform_data.prerequisites]
}
