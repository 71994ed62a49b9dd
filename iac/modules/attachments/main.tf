# Photo attachments (issue 16): a private bucket members upload to and fetch from with
# presigned URLs only, and the check function its ObjectCreated notifications run
# (functions/attachment_check.py: magic bytes, size, thumbnail; ready | rejected).
#
# Keys: rooms/{roomId}/{attId} (uploads; notified), thumbs/{roomId}/{attId}.jpg (thumbnails the
# check writes; not notified, so a thumbnail is never checked as an upload).

resource "aws_s3_bucket" "attachments" {
  #checkov:skip=CKV_AWS_18:Every access is a presigned URL the HTTP function issued to a member (logged there with the caller); server access logs would need a second bucket and add nothing.
  #checkov:skip=CKV_AWS_144:Photos are re-uploadable chat content, not records; cross-region replication doubles the cost for no guarantee the chat makes (docs/guarantees.md).
  bucket_prefix = "${var.name}-attachments-"
  force_destroy = false
}

resource "aws_s3_bucket_public_access_block" "attachments" {
  bucket                  = aws_s3_bucket.attachments.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "attachments" {
  bucket = aws_s3_bucket.attachments.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "attachments" {
  bucket = aws_s3_bucket.attachments.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = true # one KMS call per object key, not per request
  }
}

# Versioned so an overwrite or delete can be undone for a day; rejected photos and old
# versions do not outlive that (lifecycle below).
resource "aws_s3_bucket_versioning" "attachments" {
  bucket = aws_s3_bucket.attachments.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "attachments" {
  bucket = aws_s3_bucket.attachments.id

  rule {
    id     = "abort-incomplete-uploads"
    status = "Enabled"
    filter {}
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  # The check deletes what it rejects; this removes the versions those deletes leave.
  rule {
    id     = "expire-deleted-versions"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = 1
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
    expiration {
      expired_object_delete_marker = true
    }
  }

  # Photos live as long as the chat keeps messages (0: forever).
  dynamic "rule" {
    for_each = var.retention_days > 0 ? [1] : []
    content {
      id     = "expire-photos"
      status = "Enabled"
      filter {}
      expiration {
        days = var.retention_days
      }
      abort_incomplete_multipart_upload {
        days_after_initiation = 1
      }
    }
  }

  depends_on = [aws_s3_bucket_versioning.attachments]
}

# The web client PUTs and GETs straight from the bucket.
resource "aws_s3_bucket_cors_configuration" "attachments" {
  bucket = aws_s3_bucket.attachments.id
  cors_rule {
    allowed_origins = var.allowed_origins
    allowed_methods = ["PUT", "GET", "HEAD"]
    allowed_headers = ["content-type"]
    expose_headers  = ["ETag"]
    max_age_seconds = 3000
  }
}

# Only TLS; presigned URLs are https.
data "aws_iam_policy_document" "bucket" {
  statement {
    sid       = "TlsOnly"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.attachments.arn, "${aws_s3_bucket.attachments.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "attachments" {
  bucket     = aws_s3_bucket.attachments.id
  policy     = data.aws_iam_policy_document.bucket.json
  depends_on = [aws_s3_bucket_public_access_block.attachments]
}

# --- the HTTP function presigns: its role must hold the rights the URLs use ------------------

data "aws_iam_policy_document" "http" {
  statement {
    sid       = "PresignUploads"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.attachments.arn}/rooms/*"]
  }
  statement {
    sid       = "PresignFetches"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.attachments.arn}/rooms/*", "${aws_s3_bucket.attachments.arn}/thumbs/*"]
  }
  statement {
    sid       = "BucketKey"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "http" {
  name   = "attachments"
  role   = var.http_role_name
  policy = data.aws_iam_policy_document.http.json
}

# --- the check function ---------------------------------------------------------------------

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "check" {
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.check.arn}:*"]
  }
  statement {
    sid       = "ReadAndDeleteUploads"
    actions   = ["s3:GetObject", "s3:DeleteObject"]
    resources = ["${aws_s3_bucket.attachments.arn}/rooms/*"]
  }
  statement {
    sid       = "WriteThumbnails"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.attachments.arn}/thumbs/*"]
  }
  statement {
    sid       = "BucketKey"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [var.kms_key_arn]
  }
  statement {
    sid       = "SettleAttachments"
    actions   = ["dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:UpdateItem"]
    resources = [var.attachments_table_arn]
  }
  statement {
    sid       = "RoomSubscribers"
    actions   = ["dynamodb:BatchGetItem", "dynamodb:GetItem"]
    resources = [var.rooms_table_arn]
  }
  statement {
    sid       = "DeadLetters"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.check_dlq.arn]
  }
  statement {
    sid       = "Tracing"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }
  statement {
    sid       = "VpcDescribe"
    actions   = ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeVpcs"]
    resources = ["*"] # Describe* has no resource-level permissions
  }
  statement {
    sid       = "VpcNetworkInterfaces"
    actions   = ["ec2:AssignPrivateIpAddresses", "ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface", "ec2:UnassignPrivateIpAddresses"]
    resources = ["arn:${var.partition}:ec2:${var.region}:${var.account_id}:*/*"]
  }
}

resource "aws_iam_role" "check" {
  name_prefix        = "${var.name}-att-check-"
  description        = "tidings attachment check Lambda"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

resource "aws_iam_role_policy" "check" {
  name   = "attachment-check"
  role   = aws_iam_role.check.id
  policy = data.aws_iam_policy_document.check.json
}

resource "aws_cloudwatch_log_group" "check" {
  name              = "/aws/lambda/${var.name}-attachment-check"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

# S3 invokes asynchronously: what still fails after Lambda's two retries lands here.
resource "aws_sqs_queue" "check_dlq" {
  name                      = "${var.name}-attachment-check-dlq"
  message_retention_seconds = 1209600
  kms_master_key_id         = var.kms_key_arn
}

resource "aws_lambda_function" "check" {
  #checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile outside this stack; the zip is built reproducibly by local/deploy/package.py.
  function_name                  = "${var.name}-attachment-check"
  description                    = "S3 ObjectCreated (rooms/) -> magic bytes, size, thumbnail; ready | rejected"
  role                           = aws_iam_role.check.arn
  runtime                        = "python3.12"
  architectures                  = [var.architecture]
  handler                        = "functions.attachment_check.handler"
  filename                       = var.zip_path
  source_code_hash               = filebase64sha256(var.zip_path)
  memory_size                    = var.memory_mb
  timeout                        = var.timeout_s
  reserved_concurrent_executions = var.reserved_concurrency
  kms_key_arn                    = var.kms_key_arn

  environment {
    variables = merge(var.environment, { TIDINGS_ATTACHMENTS_BUCKET = aws_s3_bucket.attachments.id })
  }

  dead_letter_config {
    target_arn = aws_sqs_queue.check_dlq.arn
  }

  vpc_config { # it posts the attachment event to the edges' internal port
    subnet_ids         = var.subnet_ids
    security_group_ids = [var.security_group_id]
  }

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.check.name
  }

  depends_on = [aws_iam_role_policy.check]
}

resource "aws_lambda_permission" "s3" {
  statement_id   = "AllowS3Notifications"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.check.function_name
  principal      = "s3.amazonaws.com"
  source_arn     = aws_s3_bucket.attachments.arn
  source_account = var.account_id
}

resource "aws_s3_bucket_notification" "attachments" {
  bucket = aws_s3_bucket.attachments.id

  lambda_function {
    lambda_function_arn = aws_lambda_function.check.arn
    events              = ["s3:ObjectCreated:*"]
    filter_prefix       = "rooms/"
  }

  depends_on = [aws_lambda_permission.s3]
}
