# `ddb2pg backfill` as an ECS Fargate task in the VPC. Start N copies of it
# (the run_task_command output): they share one export's files through the
# database, each file claimed by one process (the backfill's multi-process
# mode), and any of them may be stopped and started again: a file in flight
# is redone, a finished one is skipped.

data "aws_region" "current" {}

locals {
  cluster_arn = var.cluster_arn != null ? var.cluster_arn : aws_ecs_cluster.this[0].arn
  command = concat(
    ["backfill", "--mapping", var.mapping_path, "--export", var.export_uri, "--progress", "log"],
    var.workers > 0 ? ["--workers", tostring(var.workers)] : [],
  )
}

resource "aws_ecs_cluster" "this" {
  count = var.cluster_arn == null ? 1 : 0
  name  = var.name
  tags  = var.tags
}

resource "aws_cloudwatch_log_group" "this" {
  name              = "/ecs/${var.name}"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

# The execution role is ECS's, not the program's: it pulls the image, creates
# the log stream and reads the database secret into the container.
resource "aws_iam_role" "execution" {
  name               = "${var.name}-execution"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "execution" {
  statement {
    sid       = "WriteTheLogGroup"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }

  statement {
    sid       = "ReadTheDatabaseSecret"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [var.database_secret_arn]
  }

  dynamic "statement" {
    for_each = var.kms_key_arn != null ? [1] : []
    content {
      sid       = "DecryptTheDatabaseSecret"
      actions   = ["kms:Decrypt"]
      resources = [var.kms_key_arn]
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["secretsmanager.${split(":", var.database_secret_arn)[3]}.amazonaws.com"]
      }
    }
  }

  # ecr:GetAuthorizationToken has no resource-level permission: the token is
  # for the registry as a whole, so IAM accepts only "*" for it. The pulls
  # themselves are scoped to the one repository below.
  dynamic "statement" {
    for_each = var.ecr_repository_arn != null ? [1] : []
    content {
      sid       = "AuthenticateToEcr"
      actions   = ["ecr:GetAuthorizationToken"]
      resources = ["*"]
    }
  }

  dynamic "statement" {
    for_each = var.ecr_repository_arn != null ? [1] : []
    content {
      sid = "PullTheImage"
      actions = [
        "ecr:BatchCheckLayerAvailability",
        "ecr:GetDownloadUrlForLayer",
        "ecr:BatchGetImage",
      ]
      resources = [var.ecr_repository_arn]
    }
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "ddb2pg-backfill-execution"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

# The task role is the program's: it reads the export, nothing else. (The
# database is reached over the network with the password, not through IAM.)
resource "aws_iam_role" "task" {
  name               = "${var.name}-task"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "task" {
  name   = "ddb2pg-backfill-read-export"
  role   = aws_iam_role.task.id
  policy = var.export_reader_policy_json
}

resource "aws_ecs_task_definition" "this" {
  family                   = var.name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.cpu
  memory                   = var.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.architecture
  }

  container_definitions = jsonencode([{
    name      = "ddb2pg"
    image     = var.container_image
    essential = true
    command   = local.command
    environment = [
      { name = "DATABASE_URL", value = var.database_url },
    ]
    secrets = [
      { name = "PGPASSWORD", valueFrom = "${var.database_secret_arn}:password::" },
    ]
    readonlyRootFilesystem = true
    # ECS sends SIGTERM first: the backfill stops claiming files and the
    # files in flight roll back, to be redone by the next run.
    stopTimeout = 120
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.this.name
        awslogs-region        = data.aws_region.current.name
        awslogs-stream-prefix = "backfill"
      }
    }
  }])

  tags = var.tags
}
