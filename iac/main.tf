# tidings on AWS: WebSocket edges on ECS Fargate behind an NLB produce to MSK; a Lambda fed
# by a Kafka event source mapping stores messages in DynamoDB and POSTs deliveries back to
# the edges' internal port; an HTTP API (JWT authorizer) fronts the HTTP function.

locals {
  prefix       = "${var.name}-${var.environment}"
  table_prefix = "${local.prefix}-"

  # Ports of the edge (gunicorn binds both): public /ws /healthz /metrics, internal /@connections.
  edge_public_port   = 8001
  edge_internal_port = 8101
  listener_port      = var.certificate_arn == "" ? 80 : 443

  # Who may do what on which table (DynamoDB actions by level are in modules/iam).
  table_access = {
    worker = {
      rooms             = "readwrite"
      partition_commits = "readwrite" # the commit point of each partition
      members           = "read"
      messages          = "readwrite"
      connections       = "readwrite"
      attachments       = "read" # a send's photo was presigned to its sender, in its room
    }
    http = {
      rooms             = "readwrite"
      partition_commits = "read" # what is stored
      members           = "readwrite"
      messages          = "read"
      connections       = "read"      # presence
      devices           = "readwrite" # push devices (PUT/GET/DELETE /devices)
      attachments       = "readwrite" # photos presigned (POST /rooms/{roomId}/attachments)
    }
    edge = {
      rooms             = "readwrite" # subscriptions live in rooms.subs
      partition_commits = "read"      # what is stored: catch-up after a reconnect
      members           = "read"
      messages          = "read"
      connections       = "readwrite"
    }
    notifier = {
      rooms             = "read" # rooms.subs: who is online on any edge
      partition_commits = "read" # what the worker stored
      messages          = "read"
      members           = "update" # pushedSeq (one push per room until read)
      devices           = "update" # dead tokens deleted
    }
  }

  # Settings every component shares. Names are functions/settings.py's (a test checks them).
  common_environment = {
    TIDINGS_TABLE_PREFIX   = local.table_prefix
    TIDINGS_CHAT_TOPIC     = var.chat_topic
    TIDINGS_DLQ_TOPIC      = var.dlq_topic
    TIDINGS_PARTITIONS     = tostring(var.partitions)
    TIDINGS_CONSUMER_GROUP = var.consumer_group
    TIDINGS_JWT_ALGORITHM  = "RS256"
    TIDINGS_JWT_PUBLIC_KEY = var.jwt_public_key_pem
    TIDINGS_JWT_ISSUER     = var.jwt_issuer
    TIDINGS_JWT_AUDIENCE   = var.jwt_audience
    TIDINGS_LOCAL_MODE     = "false"
  }

  # Lambda: AWS_REGION is set by the runtime (reserved, cannot be set here).
  worker_extra_environment = {
    TIDINGS_DELIVERY_SECRET    = random_password.delivery.result
    TIDINGS_BATCH_SIZE         = tostring(var.esm_batch_size)
    TIDINGS_MAX_RETRY_ATTEMPTS = tostring(var.esm_max_retry_attempts)
    TIDINGS_MAX_RECORD_AGE_S   = tostring(var.esm_max_record_age_s)
    TIDINGS_BISECT_ON_ERROR    = "true"
    TIDINGS_EDIT_WINDOW_S      = tostring(var.edit_window_s)
  }

  # The HTTP API posts to the edges too: removing a member ends their subscriptions there.
  http_extra_environment = {
    TIDINGS_ALLOWED_ORIGINS = join(",", var.allowed_origins)
    TIDINGS_DELIVERY_SECRET = random_password.delivery.result
    # Public: what browsers subscribe with (the private half is in the push secret).
    TIDINGS_PUSH_VAPID_PUBLIC_KEY = var.push_vapid_public_key
    # Photos: the HTTP function presigns uploads and fetches of the attachments bucket.
    TIDINGS_ATTACHMENTS_BUCKET   = module.attachments.bucket
    TIDINGS_ATTACHMENT_MAX_BYTES = tostring(var.attachment_max_bytes)
    # Edits, deletes and reactions are produced to the chat topic (functions/http/changes.py)
    # and the edit window is checked before producing, as the worker will.
    TIDINGS_KAFKA_BOOTSTRAP = module.msk.bootstrap_brokers_iam
    TIDINGS_KAFKA_SECURITY  = "iam"
    TIDINGS_EDIT_WINDOW_S   = tostring(var.edit_window_s)
    # Produce (its delivery report) and the wait for the worker stay inside http_timeout_s.
    TIDINGS_PRODUCE_TIMEOUT_S  = tostring(var.http_produce_timeout_s)
    TIDINGS_HTTP_CHANGE_WAIT_S = tostring(var.http_change_wait_s)
  }

  # The notifier (modules/push): the real push services; credentials from Secrets Manager.
  push_environment = merge(local.common_environment, {
    TIDINGS_PUSH_PREVIEW = tostring(var.push_preview)
  })

  # ECS: TIDINGS_EDGE_DELIVERY_URL and TIDINGS_EDGE_ID are per task, so the image's
  # entrypoint (websocket_edge/docker/edge-entrypoint.sh) derives them from the task metadata.
  edge_extra_environment = {
    AWS_REGION                 = var.region
    TIDINGS_KAFKA_BOOTSTRAP    = module.msk.bootstrap_brokers_iam
    TIDINGS_KAFKA_SECURITY     = "iam"
    TIDINGS_ALLOWED_ORIGINS    = join(",", var.allowed_origins)
    TIDINGS_EDGE_INTERNAL_PORT = tostring(local.edge_internal_port)
    TIDINGS_IDLE_TIMEOUT_S     = tostring(var.edge_idle_timeout_s)
    TIDINGS_HEARTBEAT_MS       = tostring(var.edge_heartbeat_ms)
  }

  worker_environment = merge(local.common_environment, local.worker_extra_environment)
  http_environment   = merge(local.common_environment, local.http_extra_environment)
  edge_environment   = merge(local.common_environment, local.edge_extra_environment)

  # Injected by ECS from Secrets Manager (never in the task definition in clear).
  edge_secrets = {
    TIDINGS_DELIVERY_SECRET = aws_secretsmanager_secret.delivery.arn
  }
}

# The shared secret guarding the edges' delivery API (X-Tidings-Delivery-Secret).
resource "random_password" "delivery" {
  length  = 48
  special = false
}

resource "aws_secretsmanager_secret" "delivery" {
  #checkov:skip=CKV2_AWS_57:Rotation needs edges and worker to accept two secrets at once; rotate by re-applying with a new random_password (docs/deploy.md).
  name_prefix             = "${local.prefix}-delivery-"
  description             = "Shared secret of the edges' internal delivery API (TIDINGS_DELIVERY_SECRET)."
  kms_key_id              = module.kms.key_arn
  recovery_window_in_days = 7
}

resource "aws_secretsmanager_secret_version" "delivery" {
  secret_id     = aws_secretsmanager_secret.delivery.id
  secret_string = random_password.delivery.result
}

module "kms" {
  source = "./modules/kms"

  name       = local.prefix
  region     = var.region
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
}

module "network" {
  source = "./modules/network"

  name               = local.prefix
  region             = var.region
  create_vpc         = var.create_vpc
  vpc_cidr           = var.vpc_cidr
  az_count           = var.az_count
  single_nat_gateway = var.single_nat_gateway
  vpc_id             = var.vpc_id
  private_subnet_ids = var.private_subnet_ids
  public_subnet_ids  = var.public_subnet_ids
  client_cidrs       = var.client_cidrs
  listener_port      = local.listener_port
  edge_public_port   = local.edge_public_port
  edge_internal_port = local.edge_internal_port
  kms_key_arn        = module.kms.key_arn
  log_retention_days = var.log_retention_days
}

module "observability" {
  source = "./modules/observability"

  name               = local.prefix
  kms_key_arn        = module.kms.key_arn
  log_retention_days = var.log_retention_days
  alarm_email        = var.alarm_email

  worker_function_name = module.lambda.worker_function_name
  http_function_name   = module.lambda.http_function_name
  esm_uuid             = module.lambda.esm_uuid
  dlq_queue_name       = module.lambda.dlq_queue_name
  msk_cluster_name     = module.msk.cluster_name
  chat_topic           = var.chat_topic
  consumer_group       = var.consumer_group
  api_id               = module.api.api_id
  nlb_arn_suffix       = module.ecs.nlb_arn_suffix
  target_group_suffix  = module.ecs.target_group_arn_suffix
  edge_min_count       = var.edge_min_count

  consumer_lag_threshold     = var.consumer_lag_alarm_threshold
  edge_connections_threshold = var.edge_connections_alarm_threshold
  http_5xx_threshold         = var.http_5xx_alarm_threshold
  esm_on_failure             = var.esm_on_failure
}

module "msk" {
  source = "./modules/msk"

  name                     = local.prefix
  mode                     = var.msk_mode
  kafka_version            = var.msk_kafka_version
  broker_instance_type     = var.msk_broker_instance_type
  broker_count             = var.msk_broker_count
  broker_volume_gb         = var.msk_broker_volume_gb
  subnet_ids               = module.network.private_subnet_ids
  security_group_id        = module.network.msk_security_group_id
  kms_key_arn              = module.kms.key_arn
  log_group_name           = module.observability.msk_log_group_name
  chat_topic               = var.chat_topic
  dlq_topic                = var.dlq_topic
  partitions               = var.partitions
  topic_replication_factor = var.topic_replication_factor
  min_insync_replicas      = var.topic_min_insync_replicas
  unclean_leader_election  = var.topic_unclean_leader_election
}

module "dynamodb" {
  source = "./modules/dynamodb"

  table_prefix        = local.table_prefix
  tables              = var.tables
  kms_key_arn         = module.kms.key_arn
  deletion_protection = var.deletion_protection
}

module "iam" {
  source = "./modules/iam"

  name                = local.prefix
  region              = var.region
  account_id          = data.aws_caller_identity.current.account_id
  partition           = data.aws_partition.current.partition
  table_arns          = module.dynamodb.table_arns
  table_access        = local.table_access
  msk_cluster_arn     = module.msk.cluster_arn
  chat_topic          = var.chat_topic
  dlq_topic           = var.dlq_topic
  consumer_group      = var.consumer_group
  esm_on_failure      = var.esm_on_failure
  dlq_queue_arn       = module.lambda.dlq_queue_arn
  kms_key_arn         = module.kms.key_arn
  delivery_secret_arn = aws_secretsmanager_secret.delivery.arn
  edge_image          = var.edge_image
  log_group_arns      = module.observability.log_group_arns

  # the push notifier's role (modules/push runs the function and its mapping)
  push_consumer_group         = var.push_consumer_group
  push_credentials_secret_arn = module.push.credentials_secret_arn
}

module "lambda" {
  source = "./modules/lambda"

  name                        = local.prefix
  zip_path                    = var.lambda_zip_path
  architecture                = var.lambda_architecture
  kms_key_arn                 = module.kms.key_arn
  subnet_ids                  = module.network.private_subnet_ids
  security_group_id           = module.network.functions_security_group_id
  worker_role_arn             = module.iam.worker_role_arn
  http_role_arn               = module.iam.http_role_arn
  policies_ready              = [module.iam.worker_policy_ready, module.iam.http_policy_ready]
  worker_log_group            = module.observability.worker_log_group_name
  http_log_group              = module.observability.http_log_group_name
  worker_environment          = local.worker_environment
  http_environment            = local.http_environment
  worker_memory_mb            = var.worker_memory_mb
  worker_timeout_s            = var.worker_timeout_s
  worker_reserved_concurrency = var.worker_reserved_concurrency
  http_memory_mb              = var.http_memory_mb
  http_timeout_s              = var.http_timeout_s
  http_reserved_concurrency   = var.http_reserved_concurrency

  msk_cluster_arn        = module.msk.cluster_arn
  msk_ready              = module.msk.topics_ready
  chat_topic             = var.chat_topic
  dlq_topic              = var.dlq_topic
  consumer_group         = var.consumer_group
  esm_batch_size         = var.esm_batch_size
  esm_batching_window_s  = var.esm_batching_window_s
  esm_starting_position  = var.esm_starting_position
  esm_max_retry_attempts = var.esm_max_retry_attempts
  esm_max_record_age_s   = var.esm_max_record_age_s
  esm_min_pollers        = var.esm_min_pollers
  esm_max_pollers        = var.esm_max_pollers
  esm_on_failure         = var.esm_on_failure
}

module "api" {
  source = "./modules/api"

  name                 = local.prefix
  region               = var.region
  function_name        = module.lambda.http_function_name
  function_invoke_arn  = module.lambda.http_invoke_arn
  routes               = var.http_routes
  jwt_issuer           = var.jwt_issuer
  jwt_audience         = var.jwt_audience
  allowed_origins      = var.allowed_origins
  access_log_group_arn = module.observability.api_log_group_arn
  throttle_rate        = var.api_throttle_rate
  throttle_burst       = var.api_throttle_burst
}

module "ecs" {
  source = "./modules/ecs"

  name                   = local.prefix
  region                 = var.region
  vpc_id                 = module.network.vpc_id
  private_subnet_ids     = module.network.private_subnet_ids
  public_subnet_ids      = module.network.public_subnet_ids
  edge_security_group_id = module.network.edge_security_group_id
  nlb_security_group_id  = module.network.nlb_security_group_id
  image                  = var.edge_image
  cpu_architecture       = var.edge_cpu_architecture
  cpu                    = var.edge_cpu
  memory_mb              = var.edge_memory_mb
  min_count              = var.edge_min_count
  max_count              = var.edge_max_count
  public_port            = local.edge_public_port
  internal_port          = local.edge_internal_port
  listener_port          = local.listener_port
  certificate_arn        = var.certificate_arn
  idle_timeout_s         = var.edge_idle_timeout_s
  environment            = local.edge_environment
  secrets                = local.edge_secrets
  task_role_arn          = module.iam.edge_task_role_arn
  execution_role_arn     = module.iam.edge_execution_role_arn
  log_group_name         = module.observability.edge_log_group_name
  deletion_protection    = var.deletion_protection
}

# Push notifications to offline members (issue 15): the notifier's own mapping and secret.
module "push" {
  source = "./modules/push"

  name              = local.prefix
  role_arn          = module.iam.notifier_role_arn
  policy_ready      = module.iam.notifier_policy_ready
  log_group_name    = module.observability.notifier_log_group_name
  zip_path          = var.lambda_zip_path
  architecture      = var.lambda_architecture
  kms_key_arn       = module.kms.key_arn
  subnet_ids        = module.network.private_subnet_ids
  security_group_id = module.network.functions_security_group_id
  msk_cluster_arn   = module.msk.cluster_arn
  msk_ready         = module.msk.topics_ready
  chat_topic        = var.chat_topic
  consumer_group    = var.push_consumer_group
  environment       = local.push_environment
}

# Photo attachments (issue 16): the private bucket, presign rights of the HTTP function, and
# the check function S3's ObjectCreated notifications invoke.
module "attachments" {
  source = "./modules/attachments"

  name                  = local.prefix
  region                = var.region
  partition             = data.aws_partition.current.partition
  account_id            = data.aws_caller_identity.current.account_id
  kms_key_arn           = module.kms.key_arn
  allowed_origins       = var.allowed_origins
  retention_days        = var.attachment_retention_days
  http_role_name        = module.iam.http_role_name
  attachments_table_arn = module.dynamodb.table_arns["attachments"]
  rooms_table_arn       = module.dynamodb.table_arns["rooms"]
  zip_path              = var.lambda_zip_path
  architecture          = var.lambda_architecture
  subnet_ids            = module.network.private_subnet_ids
  security_group_id     = module.network.functions_security_group_id
  log_retention_days    = var.log_retention_days
  environment = merge(local.common_environment, {
    TIDINGS_DELIVERY_SECRET      = random_password.delivery.result
    TIDINGS_ATTACHMENT_MAX_BYTES = tostring(var.attachment_max_bytes)
  })
}
