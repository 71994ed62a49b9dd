# VPC (or an existing one), subnets, NAT, gateway endpoints, flow logs, and every security
# group, kept together so the rules between them (who reaches the delivery port, who
# reaches the brokers) are visible in one file.

data "aws_availability_zones" "available" {
  #checkov:skip=CKV_AWS_394:Only the first az_count zones (sorted names) are used; a zone AWS adds later gets a new, later letter and moves no subnet.
  state = "available"
}

locals {
  azs = slice(data.aws_availability_zones.available.names, 0, var.az_count)

  # MSK with IAM auth listens on 9098 inside the VPC (TLS).
  msk_iam_port = 9098
}

# --- VPC -----------------------------------------------------------------------------------

resource "aws_vpc" "this" {
  count = var.create_vpc ? 1 : 0

  cidr_block           = var.vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true

  tags = { Name = var.name }
}

data "aws_vpc" "existing" {
  count = var.create_vpc ? 0 : 1
  id    = var.vpc_id

  lifecycle {
    precondition {
      condition     = length(var.private_subnet_ids) >= 2 && length(var.public_subnet_ids) >= 2
      error_message = "create_vpc = false needs vpc_id, at least 2 private_subnet_ids and 2 public_subnet_ids."
    }
  }
}

locals {
  vpc_id             = var.create_vpc ? aws_vpc.this[0].id : data.aws_vpc.existing[0].id
  vpc_cidr           = var.create_vpc ? aws_vpc.this[0].cidr_block : data.aws_vpc.existing[0].cidr_block
  private_subnet_ids = var.create_vpc ? aws_subnet.private[*].id : var.private_subnet_ids
  public_subnet_ids  = var.create_vpc ? aws_subnet.public[*].id : var.public_subnet_ids
}

# Nothing may use the default security group.
resource "aws_default_security_group" "this" {
  count  = var.create_vpc ? 1 : 0
  vpc_id = aws_vpc.this[0].id
}

resource "aws_internet_gateway" "this" {
  count  = var.create_vpc ? 1 : 0
  vpc_id = aws_vpc.this[0].id

  tags = { Name = var.name }
}

resource "aws_subnet" "public" {
  count = var.create_vpc ? var.az_count : 0

  vpc_id                  = aws_vpc.this[0].id
  availability_zone       = local.azs[count.index]
  cidr_block              = cidrsubnet(var.vpc_cidr, 4, count.index)
  map_public_ip_on_launch = false # only the NLB and NAT live here; they get EIPs/AWS addresses

  tags = { Name = "${var.name}-public-${local.azs[count.index]}" }
}

resource "aws_subnet" "private" {
  count = var.create_vpc ? var.az_count : 0

  vpc_id            = aws_vpc.this[0].id
  availability_zone = local.azs[count.index]
  cidr_block        = cidrsubnet(var.vpc_cidr, 4, 8 + count.index)

  tags = { Name = "${var.name}-private-${local.azs[count.index]}" }
}

resource "aws_eip" "nat" {
  count  = var.create_vpc ? (var.single_nat_gateway ? 1 : var.az_count) : 0
  domain = "vpc"

  tags = { Name = "${var.name}-nat-${count.index}" }
}

resource "aws_nat_gateway" "this" {
  count = var.create_vpc ? (var.single_nat_gateway ? 1 : var.az_count) : 0

  allocation_id = aws_eip.nat[count.index].id
  subnet_id     = aws_subnet.public[count.index].id

  tags       = { Name = "${var.name}-nat-${count.index}" }
  depends_on = [aws_internet_gateway.this]
}

resource "aws_route_table" "public" {
  count  = var.create_vpc ? 1 : 0
  vpc_id = aws_vpc.this[0].id

  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.this[0].id
  }

  tags = { Name = "${var.name}-public" }
}

resource "aws_route_table_association" "public" {
  count = var.create_vpc ? var.az_count : 0

  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public[0].id
}

resource "aws_route_table" "private" {
  count  = var.create_vpc ? var.az_count : 0
  vpc_id = aws_vpc.this[0].id

  route {
    cidr_block     = "0.0.0.0/0"
    nat_gateway_id = aws_nat_gateway.this[var.single_nat_gateway ? 0 : count.index].id
  }

  tags = { Name = "${var.name}-private-${local.azs[count.index]}" }
}

resource "aws_route_table_association" "private" {
  count = var.create_vpc ? var.az_count : 0

  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private[count.index].id
}

# DynamoDB and S3 (ECR layers) without NAT charges.
resource "aws_vpc_endpoint" "gateway" {
  for_each = var.create_vpc ? toset(["dynamodb", "s3"]) : toset([])

  vpc_id            = aws_vpc.this[0].id
  service_name      = "com.amazonaws.${var.region}.${each.key}"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = aws_route_table.private[*].id

  tags = { Name = "${var.name}-${each.key}" }
}

# --- Flow logs -----------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "flow" {
  count = var.create_vpc ? 1 : 0

  name              = "/tidings/${var.name}/vpc-flow"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

data "aws_iam_policy_document" "flow_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["vpc-flow-logs.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "flow" {
  count = var.create_vpc ? 1 : 0

  statement {
    actions = [
      "logs:CreateLogStream",
      "logs:PutLogEvents",
      "logs:DescribeLogStreams",
    ]
    resources = ["${aws_cloudwatch_log_group.flow[0].arn}:*"]
  }
}

resource "aws_iam_role" "flow" {
  count = var.create_vpc ? 1 : 0

  name_prefix        = "${var.name}-flow-"
  assume_role_policy = data.aws_iam_policy_document.flow_assume.json
}

resource "aws_iam_role_policy" "flow" {
  count = var.create_vpc ? 1 : 0

  role   = aws_iam_role.flow[0].id
  policy = data.aws_iam_policy_document.flow[0].json
}

resource "aws_flow_log" "this" {
  count = var.create_vpc ? 1 : 0

  vpc_id          = aws_vpc.this[0].id
  traffic_type    = "REJECT"
  log_destination = aws_cloudwatch_log_group.flow[0].arn
  iam_role_arn    = aws_iam_role.flow[0].arn
}

# --- Security groups -----------------------------------------------------------------------

data "aws_prefix_list" "dynamodb" {
  name = "com.amazonaws.${var.region}.dynamodb"
}

resource "aws_security_group" "nlb" {
  #checkov:skip=CKV2_AWS_5:Attached to the NLB in modules/ecs; checkov's graph does not follow module outputs.
  name_prefix = "${var.name}-nlb-"
  description = "NLB in front of the edges: clients in, edge public port out"
  vpc_id      = local.vpc_id

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_security_group" "edge" {
  #checkov:skip=CKV2_AWS_5:Attached to the edge service in modules/ecs; checkov's graph does not follow module outputs.
  name_prefix = "${var.name}-edge-"
  description = "Edges: public port from the NLB, delivery port from the functions only"
  vpc_id      = local.vpc_id

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_security_group" "functions" {
  #checkov:skip=CKV2_AWS_5:Attached to both functions in modules/lambda; checkov's graph does not follow module outputs.
  name_prefix = "${var.name}-functions-"
  description = "Lambda functions: out to the brokers, the edges' delivery port and AWS APIs"
  vpc_id      = local.vpc_id

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_security_group" "msk" {
  #checkov:skip=CKV2_AWS_5:Attached to the MSK cluster in modules/msk; checkov's graph does not follow module outputs.
  name_prefix = "${var.name}-msk-"
  description = "MSK brokers (IAM auth, TLS): from edges and functions; the ESM pollers use this group too"
  vpc_id      = local.vpc_id

  lifecycle {
    create_before_destroy = true
  }
}

# NLB
resource "aws_vpc_security_group_ingress_rule" "nlb_clients" {
  for_each = toset(var.client_cidrs)

  security_group_id = aws_security_group.nlb.id
  description       = "WebSocket clients to the listener"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = var.listener_port
  to_port           = var.listener_port
}

resource "aws_vpc_security_group_egress_rule" "nlb_to_edge" {
  security_group_id            = aws_security_group.nlb.id
  description                  = "Forward and health-check the edges' public port"
  referenced_security_group_id = aws_security_group.edge.id
  ip_protocol                  = "tcp"
  from_port                    = var.edge_public_port
  to_port                      = var.edge_public_port
}

# Edge
resource "aws_vpc_security_group_ingress_rule" "edge_public_from_nlb" {
  security_group_id            = aws_security_group.edge.id
  description                  = "WebSockets and health checks from the NLB"
  referenced_security_group_id = aws_security_group.nlb.id
  ip_protocol                  = "tcp"
  from_port                    = var.edge_public_port
  to_port                      = var.edge_public_port
}

resource "aws_vpc_security_group_ingress_rule" "edge_delivery_from_functions" {
  security_group_id            = aws_security_group.edge.id
  description                  = "Delivery API (/@connections) from the worker function only"
  referenced_security_group_id = aws_security_group.functions.id
  ip_protocol                  = "tcp"
  from_port                    = var.edge_internal_port
  to_port                      = var.edge_internal_port
}

resource "aws_vpc_security_group_egress_rule" "edge_to_msk" {
  security_group_id            = aws_security_group.edge.id
  description                  = "Produce to the brokers (IAM auth)"
  referenced_security_group_id = aws_security_group.msk.id
  ip_protocol                  = "tcp"
  from_port                    = local.msk_iam_port
  to_port                      = local.msk_iam_port
}

resource "aws_vpc_security_group_egress_rule" "edge_to_dynamodb" {
  security_group_id = aws_security_group.edge.id
  description       = "DynamoDB through the gateway endpoint"
  prefix_list_id    = data.aws_prefix_list.dynamodb.id
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_vpc_security_group_egress_rule" "edge_to_aws_apis" {
  security_group_id = aws_security_group.edge.id
  description       = "AWS APIs over HTTPS via NAT (ECR, STS, CloudWatch Logs, Secrets Manager)"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

# Functions
resource "aws_vpc_security_group_egress_rule" "functions_to_edge_delivery" {
  security_group_id            = aws_security_group.functions.id
  description                  = "POST deliveries to the edges"
  referenced_security_group_id = aws_security_group.edge.id
  ip_protocol                  = "tcp"
  from_port                    = var.edge_internal_port
  to_port                      = var.edge_internal_port
}

resource "aws_vpc_security_group_egress_rule" "functions_to_msk" {
  security_group_id            = aws_security_group.functions.id
  description                  = "Brokers (IAM auth)"
  referenced_security_group_id = aws_security_group.msk.id
  ip_protocol                  = "tcp"
  from_port                    = local.msk_iam_port
  to_port                      = local.msk_iam_port
}

resource "aws_vpc_security_group_egress_rule" "functions_to_dynamodb" {
  security_group_id = aws_security_group.functions.id
  description       = "DynamoDB through the gateway endpoint"
  prefix_list_id    = data.aws_prefix_list.dynamodb.id
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_vpc_security_group_egress_rule" "functions_to_aws_apis" {
  security_group_id = aws_security_group.functions.id
  description       = "AWS APIs over HTTPS via NAT (X-Ray, KMS)"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

# MSK (the ESM's pollers sit in the cluster's subnets with this group, so it talks to itself
# and needs HTTPS out to the Lambda and STS endpoints)
resource "aws_vpc_security_group_ingress_rule" "msk_from_edge" {
  security_group_id            = aws_security_group.msk.id
  description                  = "Edges produce"
  referenced_security_group_id = aws_security_group.edge.id
  ip_protocol                  = "tcp"
  from_port                    = local.msk_iam_port
  to_port                      = local.msk_iam_port
}

resource "aws_vpc_security_group_ingress_rule" "msk_from_functions" {
  security_group_id            = aws_security_group.msk.id
  description                  = "Functions"
  referenced_security_group_id = aws_security_group.functions.id
  ip_protocol                  = "tcp"
  from_port                    = local.msk_iam_port
  to_port                      = local.msk_iam_port
}

resource "aws_vpc_security_group_ingress_rule" "msk_from_self" {
  security_group_id            = aws_security_group.msk.id
  description                  = "Event source mapping pollers and brokers"
  referenced_security_group_id = aws_security_group.msk.id
  ip_protocol                  = "tcp"
  from_port                    = local.msk_iam_port
  to_port                      = local.msk_iam_port
}

resource "aws_vpc_security_group_egress_rule" "msk_to_self" {
  security_group_id            = aws_security_group.msk.id
  description                  = "Event source mapping pollers to the brokers"
  referenced_security_group_id = aws_security_group.msk.id
  ip_protocol                  = "tcp"
  from_port                    = local.msk_iam_port
  to_port                      = local.msk_iam_port
}

resource "aws_vpc_security_group_egress_rule" "msk_to_aws_apis" {
  security_group_id = aws_security_group.msk.id
  description       = "Event source mapping pollers to the Lambda and STS APIs via NAT"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}
