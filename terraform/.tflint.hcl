# tflint configuration for `make terraform-check`. Only the ruleset bundled
# in tflint itself: the AWS ruleset is a plugin downloaded from GitHub, which
# this project's machines cannot reach.
config {
  call_module_type = "local"
}

plugin "terraform" {
  enabled = true
  preset  = "all"
}
