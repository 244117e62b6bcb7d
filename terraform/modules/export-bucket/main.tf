# The bucket DynamoDB exports the table into, and the two IAM policy
# documents of the people (or tasks) around it: the exporter, who runs
# `ddb2pg export`, and the backfill reader, who runs `ddb2pg backfill`.

locals {
  region     = split(":", var.table_arn)[3]
  table_name = split("/", var.table_arn)[1]
  objects    = "${aws_s3_bucket.this.arn}/${var.export_prefix}/*"
}

resource "aws_s3_bucket" "this" {
  bucket        = var.bucket_name
  force_destroy = var.force_destroy
  tags          = var.tags
}

# ACLs off: every object, including those DynamoDB writes, belongs to the
# bucket owner.
resource "aws_s3_bucket_ownership_controls" "this" {
  bucket = aws_s3_bucket.this.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket                  = aws_s3_bucket.this.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.kms_key_arn != null ? "aws:kms" : "AES256"
      kms_master_key_id = var.kms_key_arn
    }
    # One data key per bucket rather than per object: an export writes many
    # objects, and the backfill reads them all.
    bucket_key_enabled = var.kms_key_arn != null
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    id     = "expire-exports"
    status = "Enabled"
    filter {
      prefix = "${var.export_prefix}/"
    }
    expiration {
      days = var.expiration_days
    }
    # An export that failed half way leaves multipart uploads behind.
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

data "aws_iam_policy_document" "bucket" {
  # The table's data leaves AWS only over TLS.
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    resources = [aws_s3_bucket.this.arn, "${aws_s3_bucket.this.arn}/*"]
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  bucket = aws_s3_bucket.this.id
  policy = data.aws_iam_policy_document.bucket.json
  # S3 refuses a bucket policy while the public access block is being set.
  depends_on = [aws_s3_bucket_public_access_block.this]
}

# For whoever runs `ddb2pg export`: the four DynamoDB calls it makes
# (pkg/exportstart.Actions; terraform/hcltest checks the two agree) and the
# S3 writes DynamoDB makes with the caller's permissions.
data "aws_iam_policy_document" "exporter" {
  statement {
    sid = "CheckAndExportTheTable"
    actions = [
      "dynamodb:DescribeTable",
      "dynamodb:DescribeContinuousBackups",
      "dynamodb:ExportTableToPointInTime",
    ]
    resources = [var.table_arn]
  }

  statement {
    sid       = "FollowTheExport"
    actions   = ["dynamodb:DescribeExport"]
    resources = ["${var.table_arn}/export/*"]
  }

  statement {
    sid = "WriteTheExport"
    actions = [
      "s3:PutObject",
      "s3:AbortMultipartUpload",
      "s3:PutObjectAcl",
    ]
    resources = [local.objects]
  }

  dynamic "statement" {
    for_each = var.kms_key_arn != null ? [1] : []
    content {
      sid       = "EncryptTheExport"
      actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
      resources = [var.kms_key_arn]
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["s3.${local.region}.amazonaws.com"]
      }
    }
  }
}

# For `ddb2pg backfill` (an operator's host or the backfill-task module):
# read the exports, nothing else.
data "aws_iam_policy_document" "backfill_reader" {
  statement {
    sid       = "ReadTheExports"
    actions   = ["s3:GetObject"]
    resources = [local.objects]
  }

  # The backfill never lists an export (it reads manifest-files.json), but
  # without ListBucket a missing data file reads as 403 AccessDenied instead
  # of 404 NoSuchKey, and the backfill's "file missing" message would be
  # wrong. No s3:prefix condition: S3 makes that 404-or-403 decision for a
  # GetObject, whose request has no s3:prefix, so a conditioned grant would
  # never apply. The bucket holds nothing but exports, and listing shows key
  # names only.
  statement {
    sid       = "ListTheBucket"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.this.arn]
  }

  dynamic "statement" {
    for_each = var.kms_key_arn != null ? [1] : []
    content {
      sid       = "DecryptTheExports"
      actions   = ["kms:Decrypt"]
      resources = [var.kms_key_arn]
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["s3.${local.region}.amazonaws.com"]
      }
    }
  }
}
