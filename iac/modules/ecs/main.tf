# Edges on Fargate behind an internet-facing NLB.
#
# Idle timeout: a TLS listener's idle timeout is fixed at 350 s (only TCP listeners take
# 60-6000 s). We terminate TLS at the NLB (ACM certificate, no keys in the image), so the
# edge's own idle timeout is kept below 350 s and its heart-beats (10 s) keep live sockets
# busy: the edge, not the NLB, decides when an idle socket ends, and it does so with a
# WebSocket close frame instead of a silent drop. Without a certificate (tests) the TCP
# listener's idle timeout is set just above the edge's.

locals {
  tls       = var.certificate_arn != ""
  container = "edge"

  command = [
    "gunicorn", "-k", "websocket_edge.worker.EdgeWorker", "-w", "1",
    "--bind", "0.0.0.0:${var.public_port}", "--bind", "0.0.0.0:${var.internal_port}",
    # each open WebSocket holds one slot: room for 10,000 connections per edge
    "--worker-connections", "12000", "--graceful-timeout", "20", "--timeout", "60",
    "--worker-tmp-dir", "/tmp", "--no-control-socket",
    "websocket_edge.app:get_app()",
  ]
}

resource "aws_ecs_cluster" "this" {
  name = var.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

resource "aws_ecs_task_definition" "edge" {
  family                   = "${var.name}-edge"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.cpu
  memory                   = var.memory_mb
  task_role_arn            = var.task_role_arn
  execution_role_arn       = var.execution_role_arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  # gunicorn's worker heartbeat file; the root file system is read-only.
  volume {
    name = "tmp"
  }

  container_definitions = jsonencode([
    {
      name                   = local.container
      image                  = var.image
      essential              = true
      command                = local.command
      readonlyRootFilesystem = true
      stopTimeout            = 120 # let the edge close sockets with a close frame on deploys
      environment            = [for k in sort(keys(var.environment)) : { name = k, value = var.environment[k] }]
      secrets                = [for k in sort(keys(var.secrets)) : { name = k, valueFrom = var.secrets[k] }]
      portMappings = [
        { containerPort = var.public_port, protocol = "tcp", name = "public" },
        { containerPort = var.internal_port, protocol = "tcp", name = "delivery" },
      ]
      mountPoints = [{ sourceVolume = "tmp", containerPath = "/tmp", readOnly = false }]
      linuxParameters = {
        initProcessEnabled = true
      }
      healthCheck = {
        command     = ["CMD", "python", "-c", "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:${var.public_port}/healthz', timeout=3).status != 200)"]
        interval    = 15
        timeout     = 5
        retries     = 3
        startPeriod = 30
      }
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = var.log_group_name
          awslogs-region        = var.region
          awslogs-stream-prefix = "edge"
        }
      }
    }
  ])
}

resource "aws_lb" "this" {
  #checkov:skip=CKV_AWS_91:NLB access logs cover TLS listeners only and need an S3 bucket; connections are logged by the edges (JSON logs) and rejected flows by VPC flow logs.
  name                             = substr("${var.name}-edge", 0, 32)
  load_balancer_type               = "network"
  internal                         = false
  subnets                          = var.public_subnet_ids
  security_groups                  = [var.nlb_security_group_id]
  enable_cross_zone_load_balancing = true
  enable_deletion_protection       = var.deletion_protection
}

resource "aws_lb_target_group" "edge" {
  name                 = substr("${var.name}-edge", 0, 32)
  port                 = var.public_port
  protocol             = "TCP"
  target_type          = "ip"
  vpc_id               = var.vpc_id
  preserve_client_ip   = false # the edge SG then only needs the NLB SG, not every client CIDR
  deregistration_delay = 60
  # After the delay, close what is left so clients reconnect to a healthy edge.
  connection_termination = true

  health_check {
    protocol            = "HTTP"
    path                = "/healthz"
    port                = "traffic-port"
    matcher             = "200"
    interval            = 10
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 2
  }
}

resource "aws_lb_listener" "ws" {
  load_balancer_arn = aws_lb.this.arn
  port              = var.listener_port
  protocol          = local.tls ? "TLS" : "TCP"
  certificate_arn   = local.tls ? var.certificate_arn : null
  ssl_policy        = local.tls ? "ELBSecurityPolicy-TLS13-1-2-2021-06" : null

  # TCP listeners only (TLS listeners are fixed at 350 s).
  tcp_idle_timeout_seconds = local.tls ? null : min(var.idle_timeout_s + 60, 6000)

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.edge.arn
  }

  lifecycle {
    precondition {
      condition     = !local.tls || var.idle_timeout_s < 350
      error_message = "With a TLS listener (fixed 350 s idle timeout) edge_idle_timeout_s must be below 350."
    }
  }
}

resource "aws_ecs_service" "edge" {
  name                              = "edge"
  cluster                           = aws_ecs_cluster.this.id
  task_definition                   = aws_ecs_task_definition.edge.arn
  launch_type                       = "FARGATE"
  platform_version                  = "LATEST"
  desired_count                     = var.min_count
  health_check_grace_period_seconds = 60
  propagate_tags                    = "SERVICE"
  enable_ecs_managed_tags           = true
  wait_for_steady_state             = true

  # New edges first, then old ones drain (clients reconnect); a failing deploy rolls back.
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [var.edge_security_group_id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.edge.arn
    container_name   = local.container
    container_port   = var.public_port
  }

  lifecycle {
    ignore_changes = [desired_count] # owned by autoscaling
  }

  depends_on = [aws_lb_listener.ws]
}

resource "aws_appautoscaling_target" "edge" {
  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.edge.name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.min_count
  max_capacity       = var.max_count
}

# Scale out fast, scale in slowly: scaling in closes every socket of the removed edge.
resource "aws_appautoscaling_policy" "cpu" {
  name               = "${var.name}-edge-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.edge.service_namespace
  resource_id        = aws_appautoscaling_target.edge.resource_id
  scalable_dimension = aws_appautoscaling_target.edge.scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = 60
    scale_out_cooldown = 60
    scale_in_cooldown  = 900

    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}

resource "aws_appautoscaling_policy" "memory" {
  name               = "${var.name}-edge-memory"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.edge.service_namespace
  resource_id        = aws_appautoscaling_target.edge.resource_id
  scalable_dimension = aws_appautoscaling_target.edge.scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = 70
    scale_out_cooldown = 60
    scale_in_cooldown  = 900

    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageMemoryUtilization"
    }
  }
}
