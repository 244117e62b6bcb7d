variable "name" {
  type        = string
  description = "Name of the task definition family; also the prefix of its roles, log group and (when created) cluster."

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,48}$", var.name))
    error_message = "name must be 1 to 48 letters, digits, '-' or '_'."
  }
}

variable "container_image" {
  type        = string
  description = "Image whose entrypoint is the ddb2pg binary (bin/ddb2pg from `make build`, built for the task's architecture) with the mapping file at mapping_path. terraform/README.md shows a two-line Dockerfile."

  validation {
    condition     = length(var.container_image) > 0 && !can(regex("\\s", var.container_image))
    error_message = "container_image must be an image reference without spaces (REGISTRY/REPO:TAG or @sha256:...)."
  }
}

variable "ecr_repository_arn" {
  type        = string
  description = "ARN of the ECR repository holding container_image, so the execution role may pull from it (and only it). Null for an image in a public registry."
  default     = null

  validation {
    condition     = var.ecr_repository_arn == null || can(regex("^arn:aws[a-z-]*:ecr:[a-z0-9-]+:[0-9]{12}:repository/.+$", var.ecr_repository_arn))
    error_message = "ecr_repository_arn must be an ECR repository ARN."
  }
}

variable "export_uri" {
  type        = string
  description = "The export folder to load, as printed by `ddb2pg export`: s3://BUCKET/PREFIX/AWSDynamoDB/<exportId>."

  validation {
    condition     = can(regex("^s3://[a-z0-9][a-z0-9.-]+[a-z0-9](/[^/]+)*/AWSDynamoDB/[^/]+$", var.export_uri))
    error_message = "export_uri must be an export folder: s3://BUCKET/PREFIX/AWSDynamoDB/<exportId>."
  }
}

variable "export_reader_policy_json" {
  type        = string
  description = "IAM policy (JSON) the task uses to read the export: the backfill_reader_policy_json output of the export-bucket module."

  validation {
    condition     = can(jsondecode(var.export_reader_policy_json).Statement)
    error_message = "export_reader_policy_json must be an IAM policy document in JSON."
  }
}

variable "mapping_path" {
  type        = string
  description = "Path of the mapping file inside the image (ddb2pg backfill --mapping)."
  default     = "/etc/ddb2pg/mapping.yaml"

  validation {
    condition     = startswith(var.mapping_path, "/")
    error_message = "mapping_path must be an absolute path inside the image."
  }
}

variable "database_url" {
  type        = string
  description = "DATABASE_URL without the password (postgres://USER@HOST:5432/DB?sslmode=verify-full); the password is injected from database_secret_arn as PGPASSWORD, which the PostgreSQL driver uses when the URL has none."

  validation {
    condition     = can(regex("^postgres(ql)?://[^:@/]+@", var.database_url))
    error_message = "database_url must be postgres://USER@HOST/... without a password (it comes from the secret)."
  }
}

variable "database_secret_arn" {
  type        = string
  description = "Secrets Manager secret in the RDS format; its password key becomes PGPASSWORD in the container (fetched by ECS with the execution role, never stored in the task definition)."

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+$", var.database_secret_arn))
    error_message = "database_secret_arn must be a Secrets Manager secret ARN."
  }
}

variable "kms_key_arn" {
  type        = string
  description = "Customer-managed KMS key of the database secret; null when the secret uses the AWS-managed key."
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

variable "workers" {
  type        = number
  description = "ddb2pg backfill --workers per task (files loaded at once); 0 for the task's CPU count. Each worker holds a database connection: tasks x workers must fit the database's max_connections."
  default     = 0

  validation {
    condition     = var.workers >= 0 && var.workers <= 256 && floor(var.workers) == var.workers
    error_message = "workers must be a whole number between 0 and 256."
  }
}

variable "cpu" {
  type        = number
  description = "Task CPU units (1024 = one vCPU)."
  default     = 2048

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096, 8192, 16384], var.cpu)
    error_message = "cpu must be a Fargate size: 256, 512, 1024, 2048, 4096, 8192 or 16384."
  }
}

variable "memory" {
  type        = number
  description = "Task memory in MiB; must be a combination Fargate allows with cpu (2048 CPU: 4096 to 16384)."
  default     = 4096

  validation {
    condition     = var.memory >= 512 && var.memory <= 122880
    error_message = "memory must be between 512 and 122880 MiB."
  }
}

variable "architecture" {
  type        = string
  description = "CPU architecture of the task; the image must be built for it."
  default     = "ARM64"

  validation {
    condition     = contains(["ARM64", "X86_64"], var.architecture)
    error_message = "architecture must be ARM64 or X86_64."
  }
}

variable "cluster_arn" {
  type        = string
  description = "ECS cluster to run the tasks in; null creates one named after the task."
  default     = null

  validation {
    condition     = var.cluster_arn == null || can(regex("^arn:aws[a-z-]*:ecs:[a-z0-9-]+:[0-9]{12}:cluster/.+$", var.cluster_arn))
    error_message = "cluster_arn must be an ECS cluster ARN."
  }
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets the tasks run in: they need routes to the database, S3 (a gateway endpoint is cheapest), Secrets Manager, ECR and CloudWatch Logs."

  validation {
    condition     = length(var.subnet_ids) > 0 && alltrue([for s in var.subnet_ids : can(regex("^subnet-[0-9a-f]+$", s))])
    error_message = "subnet_ids must be one or more subnet ids (subnet-...)."
  }
}

variable "security_group_ids" {
  type        = list(string)
  description = "Security groups of the tasks; the database's group must allow them in."

  validation {
    condition     = length(var.security_group_ids) > 0 && alltrue([for s in var.security_group_ids : can(regex("^sg-[0-9a-f]+$", s))])
    error_message = "security_group_ids must be one or more security group ids (sg-...)."
  }
}

variable "task_count" {
  type        = number
  description = "How many tasks the run_task_command output starts. They share the export's files through the database (each file is claimed by one process), so more tasks load a large export faster until the database is the bottleneck."
  default     = 4

  validation {
    condition     = var.task_count >= 1 && var.task_count <= 10 && floor(var.task_count) == var.task_count
    error_message = "task_count must be 1 to 10 (the most one `aws ecs run-task` starts)."
  }
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the tasks' CloudWatch log group."
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags for every resource the module creates."
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.tags : length(k) >= 1 && length(k) <= 128 && length(v) <= 256])
    error_message = "tag keys must be 1 to 128 characters and values at most 256."
  }
}
