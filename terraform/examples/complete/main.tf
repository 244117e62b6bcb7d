# The whole AWS side of a migration of one table: the export bucket, the
# stream consumer with its alarms, and (once an export exists) the backfill
# task. docs/runbook.md walks through applying it step by step.

data "aws_dynamodb_table" "source" {
  name = var.table_name
}

resource "aws_sns_topic" "alarms" {
  name = "${var.name}-alarms"
}

resource "aws_sns_topic_subscription" "email" {
  count     = var.alarm_email != null ? 1 : 0
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

module "export_bucket" {
  source = "../../modules/export-bucket"

  bucket_name   = var.export_bucket_name
  export_prefix = "ddb2pg/${var.table_name}"
  table_arn     = data.aws_dynamodb_table.source.arn
  kms_key_arn   = var.export_kms_key_arn
}

module "stream_consumer" {
  source = "../../modules/stream-consumer"

  name                = var.name
  stream_arn          = data.aws_dynamodb_table.source.stream_arn
  lambda_zip_path     = var.lambda_zip_path
  architecture        = var.lambda_architecture
  database_secret_arn = var.database_secret_arn
  database_options    = var.database_options
  kms_key_arn         = var.database_kms_key_arn
  ttl_deletes         = var.ttl_deletes
  soft_delete_column  = var.soft_delete_column
  keys_only           = data.aws_dynamodb_table.source.stream_view_type == "KEYS_ONLY"
  enabled             = var.stream_trigger_enabled
  subnet_ids          = var.subnet_ids
  security_group_ids  = var.security_group_ids
  alarm_sns_topic_arn = aws_sns_topic.alarms.arn
}

module "backfill_task" {
  source = "../../modules/backfill-task"
  count  = var.backfill_image != null && var.backfill_export_uri != null ? 1 : 0

  name                      = "${var.name}-backfill"
  container_image           = var.backfill_image
  ecr_repository_arn        = var.backfill_ecr_repository_arn
  export_uri                = var.backfill_export_uri
  export_reader_policy_json = module.export_bucket.backfill_reader_policy_json
  database_url              = var.database_url_without_password
  database_secret_arn       = var.database_secret_arn
  kms_key_arn               = var.database_kms_key_arn
  subnet_ids                = var.subnet_ids
  security_group_ids        = var.security_group_ids
}
