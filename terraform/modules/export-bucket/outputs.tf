output "bucket" {
  description = "Name of the export bucket (ddb2pg export --s3-bucket)."
  value       = aws_s3_bucket.this.id
}

output "bucket_arn" {
  description = "ARN of the export bucket."
  value       = aws_s3_bucket.this.arn
}

output "export_prefix" {
  description = "Key prefix of the exports (ddb2pg export --s3-prefix)."
  value       = var.export_prefix
}

output "export_command" {
  description = "The `ddb2pg export` command for this table and bucket; it prints the s3:// export URI for `ddb2pg backfill --export`."
  value = join(" ", compact([
    "ddb2pg export --table ${local.table_name}",
    "--s3-bucket ${aws_s3_bucket.this.id}",
    "--s3-prefix ${var.export_prefix}",
    var.kms_key_arn != null ? "--kms-key ${var.kms_key_arn}" : "",
    "--wait",
  ]))
}

output "exporter_policy_json" {
  description = "IAM policy (JSON) for whoever runs `ddb2pg export`: the DynamoDB checks and export of this table, and the S3 writes into the prefix."
  value       = data.aws_iam_policy_document.exporter.json
}

output "backfill_reader_policy_json" {
  description = "IAM policy (JSON) for whoever runs `ddb2pg backfill`: read the exports under the prefix (and decrypt them with the key)."
  value       = data.aws_iam_policy_document.backfill_reader.json
}
