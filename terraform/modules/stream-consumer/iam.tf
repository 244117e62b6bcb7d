# The function's role: exactly the calls the function makes, each on the one
# resource it touches. Resource "*" appears only for actions that IAM does not
# scope to a resource, each marked with a comment saying so
# (terraform/hcltest fails on any other wildcard).

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  name               = "${var.name}-lambda"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "permissions" {
  # Lambda's stream poller reads the stream with the function's role.
  statement {
    sid = "ReadTheStream"
    actions = [
      "dynamodb:DescribeStream",
      "dynamodb:GetRecords",
      "dynamodb:GetShardIterator",
    ]
    resources = [var.stream_arn]
  }

  # dynamodb:ListStreams has no resource-level permission: IAM evaluates it
  # against "*" only, so a statement scoped to the stream would never match.
  # It reveals stream ARNs, not data.
  statement {
    sid       = "ListStreams"
    actions   = ["dynamodb:ListStreams"]
    resources = ["*"]
  }

  # KEYS_ONLY streams carry no image: the function reads the item itself.
  dynamic "statement" {
    for_each = var.keys_only ? [1] : []
    content {
      sid       = "GetItemForKeysOnlyStream"
      actions   = ["dynamodb:GetItem"]
      resources = [local.table_arn]
    }
  }

  dynamic "statement" {
    for_each = var.database_secret_arn != null ? [1] : []
    content {
      sid       = "ReadTheDatabaseSecret"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = [var.database_secret_arn]
    }
  }

  # Only for a secret under a customer-managed key, and only when Secrets
  # Manager asks on the function's behalf.
  dynamic "statement" {
    for_each = var.kms_key_arn != null && var.database_secret_arn != null ? [1] : []
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

  # The event source mapping's on-failure destination is written with the
  # function's role.
  statement {
    sid       = "SendToTheFailureQueue"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.failures.arn]
  }

  # Logs go to the module's own log group, which exists before the function
  # (so no logs:CreateLogGroup). Metrics travel in the logs as CloudWatch
  # Embedded Metric Format, so no cloudwatch:PutMetricData either.
  statement {
    sid       = "WriteTheLogGroup"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }

  # A function in a VPC gets its network interfaces through these actions,
  # which the function's role must allow on "*": the Describe actions have no
  # resource-level permission at all, and the others act on interfaces that
  # Lambda creates and reassigns itself (shared Hyperplane ENIs) with ids no
  # policy can know in advance. AWS documents exactly this set on "*" (the
  # managed AWSLambdaVPCAccessExecutionRole) and offers nothing narrower that
  # works.
  dynamic "statement" {
    for_each = length(var.subnet_ids) > 0 ? [1] : []
    content {
      sid = "ManageVpcNetworkInterfaces"
      actions = [
        "ec2:CreateNetworkInterface",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSubnets",
        "ec2:DeleteNetworkInterface",
        "ec2:AssignPrivateIpAddresses",
        "ec2:UnassignPrivateIpAddresses",
      ]
      resources = ["*"]
    }
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "ddb2pg-stream-consumer"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.permissions.json
}
