# The stream consumer: the ddb2pg Lambda function (built by `make lambda`)
# polling the table's DynamoDB stream through an event source mapping.

locals {
  # arn:aws:dynamodb:REGION:ACCOUNT:table/TABLE/stream/LABEL
  table_arn = regex("^(.*)/stream/[^/]+$", var.stream_arn)[0]

  # Settings the function reads (lambda/config.go): always the mapping and
  # the TTL mode, the database as a secret or a URL, and the optional ones
  # only when set, so the function's own defaults apply otherwise.
  # terraform/hcltest checks these names against what the function reads.
  environment = merge(
    {
      DDB2PG_MAPPING     = var.mapping_path
      DDB2PG_TTL_DELETES = var.ttl_deletes
    },
    var.database_secret_arn != null ? { DATABASE_SECRET_ARN = var.database_secret_arn } : {},
    var.database_url != null ? { DATABASE_URL = var.database_url } : {},
    var.database_options != null ? { DDB2PG_DATABASE_OPTIONS = var.database_options } : {},
    var.ttl_deletes == "soft" ? { DDB2PG_SOFT_DELETE_COLUMN = var.soft_delete_column } : {},
    var.state_schema != null ? { DDB2PG_STATE_SCHEMA = var.state_schema } : {},
  )
}

# Created here rather than by Lambda on first write so that it has a
# retention and is removed with the stack.
resource "aws_cloudwatch_log_group" "this" {
  name              = "/aws/lambda/${var.name}"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

# On-failure destination of the event source mapping. Lambda sends a record
# of the batch it gave up on: the shard id and the first and last sequence
# numbers, not the images. docs/runbook.md ("Replaying the failure queue")
# re-reads them from the stream while it still holds them.
resource "aws_sqs_queue" "failures" {
  name                      = "${var.name}-failures"
  message_retention_seconds = var.failure_queue_retention_seconds
  # SQS-managed keys: sending needs no KMS permission on the function's role.
  sqs_managed_sse_enabled = true
  tags                    = var.tags
}

resource "aws_lambda_function" "this" {
  function_name    = var.name
  description      = "ddb2pg: applies the DynamoDB stream to PostgreSQL"
  role             = aws_iam_role.this.arn
  runtime          = "provided.al2023"
  handler          = "bootstrap"
  architectures    = [var.architecture]
  filename         = var.lambda_zip_path
  source_code_hash = filebase64sha256(var.lambda_zip_path)
  memory_size      = var.memory_size
  timeout          = var.timeout_seconds

  reserved_concurrent_executions = var.reserved_concurrent_executions

  environment {
    variables = local.environment
  }

  dynamic "vpc_config" {
    for_each = length(var.subnet_ids) > 0 ? [1] : []
    content {
      subnet_ids         = var.subnet_ids
      security_group_ids = var.security_group_ids
    }
  }

  tags = var.tags

  lifecycle {
    precondition {
      condition     = (var.database_secret_arn == null) != (var.database_url == null)
      error_message = "Set exactly one of database_secret_arn (preferred) and database_url."
    }
    precondition {
      condition     = (length(var.subnet_ids) > 0) == (length(var.security_group_ids) > 0)
      error_message = "subnet_ids and security_group_ids go together: set both (function in a VPC) or neither."
    }
    precondition {
      condition     = var.ttl_deletes != "soft" || var.soft_delete_column != null
      error_message = "ttl_deletes = \"soft\" needs soft_delete_column (the timestamptz column to set)."
    }
    precondition {
      condition     = var.database_options == null || var.database_secret_arn != null
      error_message = "database_options applies to the URL built from database_secret_arn; with database_url, put the options in the URL."
    }
    precondition {
      condition     = var.kms_key_arn == null || var.database_secret_arn != null
      error_message = "kms_key_arn is the key of the database secret: it needs database_secret_arn."
    }
  }

  # Lambda checks the ENI permissions when it creates a function in a VPC,
  # and the log group must exist before the first invocation writes to it.
  depends_on = [aws_iam_role_policy.this, aws_cloudwatch_log_group.this]
}

resource "aws_lambda_event_source_mapping" "stream" {
  event_source_arn = var.stream_arn
  function_name    = aws_lambda_function.this.arn
  enabled          = var.enabled

  # From the oldest record the stream holds (24 hours): together with an
  # export taken after the stream was enabled, no change falls between them.
  # The version guard makes re-applying changes the export already holds a
  # no-op.
  starting_position = "TRIM_HORIZON"

  batch_size                         = var.batch_size
  maximum_batching_window_in_seconds = var.maximum_batching_window_in_seconds
  parallelization_factor             = var.parallelization_factor

  # The function answers with batchItemFailures naming the first record to
  # retry; without this Lambda would ignore the answer and retry (or skip)
  # the whole batch.
  function_response_types = ["ReportBatchItemFailures"]
  # A batch that fails as a whole is split in halves until the failing part
  # is isolated, so one bad stretch holds back as few records as possible.
  bisect_batch_on_function_error = true
  maximum_retry_attempts         = var.maximum_retry_attempts
  maximum_record_age_in_seconds  = var.maximum_record_age_in_seconds

  destination_config {
    on_failure {
      destination_arn = aws_sqs_queue.failures.arn
    }
  }

  # Lambda checks that the role can read the stream when the mapping is
  # created.
  depends_on = [aws_iam_role_policy.this]
}
