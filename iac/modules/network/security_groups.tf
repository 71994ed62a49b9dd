# Every security group and the rules between them, kept together so who reaches the
# delivery port and who reaches the brokers is visible in one file.

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
