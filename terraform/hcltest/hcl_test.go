// Package hcltest checks the Terraform under terraform/ against what the code
// relies on, without Terraform or AWS: the HCL is parsed with hashicorp/hcl
// (the parser Terraform itself uses) and its structure asserted: the event
// source mapping's settings, the Lambda's environment against what it reads,
// IAM actions against the API calls the code makes, no Resource "*" beyond
// the documented ones, typed and described variables. It also does the part
// of `terraform validate` that needs no provider (references, module calls,
// every validation block evaluated against defaults, the example's tfvars
// and known-bad values), since the AWS provider cannot be downloaded here.
package hcltest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"

	"github.com/ddb2pg/ddb2pg/lambda/lambdaenv"
	"github.com/ddb2pg/ddb2pg/pkg/exportstart"
)

// lambdaEnv is every environment variable the stream Lambda reads: the
// stream-consumer module may set only these. requiredEnv are those it must
// always be able to set. Both come from the function's own list.
var (
	lambdaEnv   = lambdaenv.All
	requiredEnv = lambdaenv.Required
)

// streamConsumerActions maps each IAM action the stream consumer's role needs
// to the one resource it must be scoped to ("*" where IAM offers nothing
// narrower). The calls behind them: Lambda's stream poller reads the stream
// with the role (DescribeStream, GetRecords, GetShardIterator, ListStreams)
// and writes the on-failure queue (SendMessage); the function reads the
// database secret (GetSecretValue, Decrypt through Secrets Manager), GetItem
// for KEYS_ONLY streams, and its logs; Lambda manages VPC network interfaces.
var streamConsumerActions = map[string]string{
	"dynamodb:DescribeStream":        "var.stream_arn",
	"dynamodb:GetRecords":            "var.stream_arn",
	"dynamodb:GetShardIterator":      "var.stream_arn",
	"dynamodb:ListStreams":           "*",
	"dynamodb:GetItem":               "local.table_arn",
	"secretsmanager:GetSecretValue":  "var.database_secret_arn",
	"kms:Decrypt":                    "var.kms_key_arn",
	"sqs:SendMessage":                "aws_sqs_queue.failures",
	"logs:CreateLogStream":           "aws_cloudwatch_log_group.this",
	"logs:PutLogEvents":              "aws_cloudwatch_log_group.this",
	"ec2:CreateNetworkInterface":     "*",
	"ec2:DescribeNetworkInterfaces":  "*",
	"ec2:DescribeSubnets":            "*",
	"ec2:DeleteNetworkInterface":     "*",
	"ec2:AssignPrivateIpAddresses":   "*",
	"ec2:UnassignPrivateIpAddresses": "*",
}

// conditionalActions are granted only when a variable says they are needed.
var conditionalActions = map[string]string{
	"dynamodb:GetItem":               "var.keys_only",
	"secretsmanager:GetSecretValue":  "var.database_secret_arn",
	"kms:Decrypt":                    "var.kms_key_arn",
	"ec2:CreateNetworkInterface":     "var.subnet_ids",
	"ec2:DescribeNetworkInterfaces":  "var.subnet_ids",
	"ec2:DescribeSubnets":            "var.subnet_ids",
	"ec2:DeleteNetworkInterface":     "var.subnet_ids",
	"ec2:AssignPrivateIpAddresses":   "var.subnet_ids",
	"ec2:UnassignPrivateIpAddresses": "var.subnet_ids",
}

// wildcardActions may be allowed on Resource "*", because IAM has no
// resource-level permission for them (or, for the Lambda ENI actions, AWS
// documents "*" as the only setting that works). Any other Allow on "*"
// fails the test.
var wildcardActions = []string{
	"dynamodb:ListStreams",
	"ec2:CreateNetworkInterface",
	"ec2:DescribeNetworkInterfaces",
	"ec2:DescribeSubnets",
	"ec2:DeleteNetworkInterface",
	"ec2:AssignPrivateIpAddresses",
	"ec2:UnassignPrivateIpAddresses",
	"ecr:GetAuthorizationToken",
}

var wantModules = []string{
	"examples/complete",
	"modules/backfill-task",
	"modules/export-bucket",
	"modules/stream-consumer",
}

type module struct {
	dir    string // relative to terraform/
	files  map[string]*hcl.File
	src    map[string][]byte
	bodies []*hclsyntax.Body
}

func (m *module) blocks(typ string, labels ...string) []*hclsyntax.Block {
	var out []*hclsyntax.Block
	for _, b := range m.bodies {
		for _, blk := range b.Blocks {
			if blk.Type == typ && len(blk.Labels) >= len(labels) && slices.Equal(blk.Labels[:len(labels)], labels) {
				out = append(out, blk)
			}
		}
	}
	return out
}

func (m *module) one(t *testing.T, typ string, labels ...string) *hclsyntax.Block {
	t.Helper()
	bs := m.blocks(typ, labels...)
	if len(bs) != 1 {
		t.Fatalf("%s: want exactly one %s %q, found %d", m.dir, typ, labels, len(bs))
	}
	return bs[0]
}

func loadModules(t *testing.T) map[string]*module {
	t.Helper()
	root := ".."
	mods := map[string]*module{}
	p := hclparse.NewParser()
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".terraform" || d.Name() == "hcltest") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".tf") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		f, diags := p.ParseHCL(src, path)
		if diags.HasErrors() {
			t.Errorf("parse %s: %s", path, diags.Error())
			return nil
		}
		dir, _ := filepath.Rel(root, filepath.Dir(path))
		dir = filepath.ToSlash(dir)
		m := mods[dir]
		if m == nil {
			m = &module{dir: dir, files: map[string]*hcl.File{}, src: map[string][]byte{}}
			mods[dir] = m
		}
		m.files[path] = f
		m.src[path] = src
		m.bodies = append(m.bodies, f.Body.(*hclsyntax.Body))
		return nil
	})
	if err != nil {
		t.Fatalf("walk terraform/: %v", err)
	}
	var got []string
	for d := range mods {
		got = append(got, d)
	}
	sort.Strings(got)
	if !slices.Equal(got, wantModules) {
		t.Fatalf("Terraform directories = %v, want %v", got, wantModules)
	}
	return mods
}

// text is an expression's source, for messages.
func (m *module) text(expr hclsyntax.Expression) string {
	r := expr.Range()
	src := m.src[r.Filename]
	if r.End.Byte > len(src) {
		return r.String()
	}
	return string(src[r.Start.Byte:r.End.Byte])
}

// show renders a literal the way it is written in HCL.
func show(v cty.Value) string {
	switch {
	case v.Type().Equals(cty.String):
		return fmt.Sprintf("%q", v.AsString())
	case v.Type().Equals(cty.Bool):
		return fmt.Sprint(v.True())
	case v.Type().Equals(cty.Number):
		return v.AsBigFloat().Text('f', -1)
	case v.Type().IsTupleType():
		var parts []string
		for _, e := range v.AsValueSlice() {
			parts = append(parts, show(e))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return v.GoString()
}

// literal evaluates an expression that references nothing.
func literal(expr hclsyntax.Expression) (cty.Value, bool) {
	if len(hclsyntax.Variables(expr)) > 0 {
		return cty.NilVal, false
	}
	v, diags := expr.Value(nil)
	if diags.HasErrors() {
		return cty.NilVal, false
	}
	return v, true
}

func literalString(expr hclsyntax.Expression) (string, bool) {
	v, ok := literal(expr)
	if !ok || !v.Type().Equals(cty.String) || v.IsNull() {
		return "", false
	}
	return v.AsString(), true
}

func stringList(t *testing.T, where string, expr hclsyntax.Expression) []string {
	t.Helper()
	tup, ok := expr.(*hclsyntax.TupleConsExpr)
	if !ok {
		t.Errorf("%s: want a literal list, got %T", where, expr)
		return nil
	}
	var out []string
	for _, e := range tup.Exprs {
		s, ok := literalString(e)
		if !ok {
			t.Errorf("%s: list element at %s is not a literal string", where, e.Range())
			continue
		}
		out = append(out, s)
	}
	return out
}

// refs renders every reference an expression makes, e.g. "var.stream_arn",
// "aws_sqs_queue.failures.arn".
func refs(expr hclsyntax.Expression) []string {
	var out []string
	for _, tr := range hclsyntax.Variables(expr) {
		out = append(out, traversalString(tr))
	}
	return out
}

func traversalString(tr hcl.Traversal) string {
	var b strings.Builder
	for i, step := range tr {
		switch s := step.(type) {
		case hcl.TraverseRoot:
			b.WriteString(s.Name)
		case hcl.TraverseAttr:
			b.WriteString("." + s.Name)
		case hcl.TraverseIndex:
			b.WriteString("[]")
		default:
			if i > 0 {
				b.WriteString("?")
			}
		}
	}
	return b.String()
}

func refersTo(expr hclsyntax.Expression, want string) bool {
	for _, r := range refs(expr) {
		if r == want || strings.HasPrefix(r, want+".") || strings.HasPrefix(r, want+"[") {
			return true
		}
	}
	return false
}

func TestFilesAreFormatted(t *testing.T) {
	// hclwrite.Format is the formatter `terraform fmt` is built on; this keeps
	// the check in `go test` on machines without terraform.
	for _, m := range loadModules(t) {
		for path, src := range m.src {
			if got := hclwrite.Format(src); !bytes.Equal(got, src) {
				t.Errorf("%s is not formatted: run terraform fmt -recursive terraform/ (or make terraform-check)", path)
			}
		}
	}
}

func TestEveryVariableTypedDescribedValidated(t *testing.T) {
	for _, m := range loadModules(t) {
		vars := m.blocks("variable")
		if len(vars) == 0 {
			t.Errorf("%s declares no variables", m.dir)
		}
		for _, v := range vars {
			where := fmt.Sprintf("%s: variable %q", m.dir, v.Labels[0])
			typ, ok := v.Body.Attributes["type"]
			if !ok {
				t.Errorf("%s has no type", where)
				continue
			}
			if d, ok := v.Body.Attributes["description"]; !ok {
				t.Errorf("%s has no description", where)
			} else if s, ok := literalString(d.Expr); !ok || len(strings.TrimSpace(s)) < 10 {
				t.Errorf("%s: description must be a literal sentence", where)
			}
			// A bool cannot be out of range; everything else says what it accepts.
			if hcl.ExprAsKeyword(typ.Expr) == "bool" {
				continue
			}
			vals := 0
			for _, b := range v.Body.Blocks {
				if b.Type != "validation" {
					continue
				}
				vals++
				if _, ok := b.Body.Attributes["condition"]; !ok {
					t.Errorf("%s: validation without condition", where)
				}
				if _, ok := b.Body.Attributes["error_message"]; !ok {
					t.Errorf("%s: validation without error_message", where)
				}
			}
			if vals == 0 {
				t.Errorf("%s (type %s) has no validation block", where, hcl.ExprAsKeyword(typ.Expr))
			}
		}
	}
}

func TestEveryOutputDescribed(t *testing.T) {
	for _, m := range loadModules(t) {
		for _, o := range m.blocks("output") {
			if _, ok := o.Body.Attributes["description"]; !ok {
				t.Errorf("%s: output %q has no description", m.dir, o.Labels[0])
			}
		}
	}
}

func TestEventSourceMapping(t *testing.T) {
	m := loadModules(t)["modules/stream-consumer"]
	esm := m.one(t, "resource", "aws_lambda_event_source_mapping")
	a := esm.Body.Attributes
	want := map[string]cty.Value{
		"starting_position":              cty.StringVal("TRIM_HORIZON"),
		"function_response_types":        cty.TupleVal([]cty.Value{cty.StringVal("ReportBatchItemFailures")}),
		"bisect_batch_on_function_error": cty.True,
	}
	for name, w := range want {
		attr, ok := a[name]
		if !ok {
			t.Errorf("event source mapping has no %s", name)
			continue
		}
		got, ok := literal(attr.Expr)
		if !ok || !got.RawEquals(w) {
			t.Errorf("event source mapping %s = %s, want %s", name, m.text(attr.Expr), show(w))
		}
	}
	// The tunables are the operator's, through variables of the same name.
	for name, v := range map[string]string{
		"maximum_retry_attempts":             "var.maximum_retry_attempts",
		"maximum_record_age_in_seconds":      "var.maximum_record_age_in_seconds",
		"batch_size":                         "var.batch_size",
		"maximum_batching_window_in_seconds": "var.maximum_batching_window_in_seconds",
		"parallelization_factor":             "var.parallelization_factor",
		"enabled":                            "var.enabled",
		"event_source_arn":                   "var.stream_arn",
	} {
		if attr, ok := a[name]; !ok || !refersTo(attr.Expr, v) {
			t.Errorf("event source mapping %s must be set from %s", name, v)
		}
	}
	var onFailure hclsyntax.Expression
	for _, dc := range esm.Body.Blocks {
		for _, of := range dc.Body.Blocks {
			if dc.Type == "destination_config" && of.Type == "on_failure" {
				if attr, ok := of.Body.Attributes["destination_arn"]; ok {
					onFailure = attr.Expr
				}
			}
		}
	}
	if onFailure == nil || !refersTo(onFailure, "aws_sqs_queue.failures") {
		t.Errorf("event source mapping must send failures to aws_sqs_queue.failures")
	}
	if q := m.one(t, "resource", "aws_sqs_queue", "failures"); q.Body.Attributes["message_retention_seconds"] == nil {
		t.Errorf("failure queue has no message_retention_seconds")
	}
	if lg := m.one(t, "resource", "aws_cloudwatch_log_group", "this"); lg.Body.Attributes["retention_in_days"] == nil {
		t.Errorf("log group has no retention_in_days")
	}

	defaults := map[string]cty.Value{"parallelization_factor": cty.NumberIntVal(1), "architecture": cty.StringVal("arm64")}
	for name, w := range defaults {
		v := m.one(t, "variable", name)
		d, ok := v.Body.Attributes["default"]
		if got, lit := literal(d.Expr); !ok || !lit || !got.Equals(w).True() {
			t.Errorf("variable %s must default to %s", name, show(w))
		}
	}
}

func TestLambdaFunction(t *testing.T) {
	m := loadModules(t)["modules/stream-consumer"]
	fn := m.one(t, "resource", "aws_lambda_function")
	for name, w := range map[string]string{"runtime": "provided.al2023", "handler": "bootstrap"} {
		attr, ok := fn.Body.Attributes[name]
		if s, lit := literalString(attr.Expr); !ok || !lit || s != w {
			t.Errorf("function %s must be %q", name, w)
		}
	}
	var vars hclsyntax.Expression
	for _, b := range fn.Body.Blocks {
		if b.Type == "environment" {
			if a, ok := b.Body.Attributes["variables"]; ok {
				vars = a.Expr
			}
		}
	}
	if vars == nil {
		t.Fatalf("function has no environment variables")
	}
	got := envNames(t, m, vars)
	for _, name := range got {
		if !slices.Contains(lambdaEnv, name) {
			t.Errorf("function environment sets %s, which the Lambda does not read (it reads %v)", name, lambdaEnv)
		}
	}
	for _, name := range requiredEnv {
		if !slices.Contains(got, name) {
			t.Errorf("function environment never sets %s", name)
		}
	}
	// Alarms: lag, errors, failure queue; every one notifies the topic.
	metrics := map[string]bool{}
	for _, a := range m.blocks("resource", "aws_cloudwatch_metric_alarm") {
		if s, ok := literalString(a.Body.Attributes["metric_name"].Expr); ok {
			metrics[s] = true
		}
		if act, ok := a.Body.Attributes["alarm_actions"]; !ok || !refersTo(act.Expr, "var.alarm_sns_topic_arn") {
			t.Errorf("alarm %s does not notify var.alarm_sns_topic_arn", a.Labels[1])
		}
	}
	for _, w := range []string{"IteratorAge", "Errors", "ApproximateNumberOfMessagesVisible"} {
		if !metrics[w] {
			t.Errorf("no alarm on %s", w)
		}
	}
}

// envNames collects the keys of every object literal an expression can
// produce, following local.X, merge(...) and conditionals.
func envNames(t *testing.T, m *module, expr hclsyntax.Expression) []string {
	t.Helper()
	var names []string
	var walk func(e hclsyntax.Expression)
	walk = func(e hclsyntax.Expression) {
		switch x := e.(type) {
		case *hclsyntax.ObjectConsExpr:
			for _, it := range x.Items {
				k, ok := literalString(it.KeyExpr)
				if !ok {
					t.Errorf("environment key at %s is not a literal", it.KeyExpr.Range())
					continue
				}
				names = append(names, k)
			}
		case *hclsyntax.FunctionCallExpr:
			if x.Name != "merge" {
				t.Errorf("environment built with %s(): only merge is understood", x.Name)
			}
			for _, a := range x.Args {
				walk(a)
			}
		case *hclsyntax.ConditionalExpr:
			walk(x.TrueResult)
			walk(x.FalseResult)
		case *hclsyntax.ParenthesesExpr:
			walk(x.Expression)
		case *hclsyntax.ScopeTraversalExpr:
			r := traversalString(x.Traversal)
			name, ok := strings.CutPrefix(r, "local.")
			if !ok {
				t.Errorf("environment variables come from %s: only locals and literals are understood", r)
				return
			}
			for _, l := range m.blocks("locals") {
				if a, ok := l.Body.Attributes[name]; ok {
					walk(a.Expr)
					return
				}
			}
			t.Errorf("environment: local.%s is not declared", name)
		default:
			t.Errorf("environment variables: cannot read %T at %s", e, e.Range())
		}
	}
	walk(expr)
	return names
}

type statement struct {
	mod       *module
	file      string
	block     *hclsyntax.Block // the statement, or its dynamic block
	forEach   hclsyntax.Expression
	deny      bool
	actions   []string
	resources hclsyntax.Expression
}

func (s statement) where() string {
	r := s.block.DefRange()
	return fmt.Sprintf("%s:%d", r.Filename, r.Start.Line)
}

func policyStatements(t *testing.T, m *module, doc *hclsyntax.Block) []statement {
	t.Helper()
	var out []statement
	add := func(blk *hclsyntax.Block, body *hclsyntax.Body, forEach hclsyntax.Expression) {
		st := statement{mod: m, file: blk.DefRange().Filename, block: blk, forEach: forEach}
		if e, ok := body.Attributes["effect"]; ok {
			s, _ := literalString(e.Expr)
			st.deny = s == "Deny"
		}
		if a, ok := body.Attributes["actions"]; ok {
			st.actions = stringList(t, st.where(), a.Expr)
		}
		if r, ok := body.Attributes["resources"]; ok {
			st.resources = r.Expr
		}
		out = append(out, st)
	}
	for _, b := range doc.Body.Blocks {
		switch {
		case b.Type == "statement":
			add(b, b.Body, nil)
		case b.Type == "dynamic" && len(b.Labels) == 1 && b.Labels[0] == "statement":
			for _, c := range b.Body.Blocks {
				if c.Type == "content" {
					add(b, c.Body, b.Body.Attributes["for_each"].Expr)
				}
			}
		}
	}
	return out
}

func allStatements(t *testing.T, m *module) []statement {
	var out []statement
	for _, doc := range m.blocks("data", "aws_iam_policy_document") {
		out = append(out, policyStatements(t, m, doc)...)
	}
	return out
}

func (s statement) wildcard() bool {
	tup, ok := s.resources.(*hclsyntax.TupleConsExpr)
	if !ok {
		return false
	}
	for _, e := range tup.Exprs {
		if v, ok := literalString(e); ok && v == "*" {
			return true
		}
	}
	return false
}

func TestStreamConsumerIAMMatchesTheCalls(t *testing.T) {
	m := loadModules(t)["modules/stream-consumer"]
	doc := m.one(t, "data", "aws_iam_policy_document", "permissions")
	seen := map[string]bool{}
	for _, st := range policyStatements(t, m, doc) {
		for _, act := range st.actions {
			seen[act] = true
			want, ok := streamConsumerActions[act]
			if !ok {
				t.Errorf("%s: %s is not a call the stream consumer makes", st.where(), act)
				continue
			}
			if want == "*" {
				if !st.wildcard() {
					t.Errorf("%s: %s must be on \"*\" (no resource-level permission)", st.where(), act)
				}
			} else if st.resources == nil || !refersTo(st.resources, want) || st.wildcard() {
				t.Errorf("%s: %s must be scoped to %s, got %v", st.where(), act, want, refs(st.resources))
			}
			if cond, ok := conditionalActions[act]; ok {
				if st.forEach == nil || !refersTo(st.forEach, cond) {
					t.Errorf("%s: %s must be granted only depending on %s", st.where(), act, cond)
				}
			} else if st.forEach != nil {
				t.Errorf("%s: %s is always needed but granted conditionally", st.where(), act)
			}
		}
	}
	for act := range streamConsumerActions {
		if !seen[act] {
			t.Errorf("the stream consumer's role lacks %s", act)
		}
	}
	role := m.one(t, "resource", "aws_iam_role_policy", "this")
	if !refersTo(role.Body.Attributes["policy"].Expr, "data.aws_iam_policy_document.permissions") {
		t.Errorf("the role's policy is not data.aws_iam_policy_document.permissions")
	}
}

func TestExporterPolicyMatchesExportCommand(t *testing.T) {
	m := loadModules(t)["modules/export-bucket"]
	var dynamo []string
	for _, st := range policyStatements(t, m, m.one(t, "data", "aws_iam_policy_document", "exporter")) {
		for _, act := range st.actions {
			if strings.HasPrefix(act, "dynamodb:") {
				dynamo = append(dynamo, act)
				if !refersTo(st.resources, "var.table_arn") {
					t.Errorf("%s: %s must be scoped to the table (var.table_arn)", st.where(), act)
				}
			}
		}
	}
	want := slices.Clone(exportstart.Actions)
	sort.Strings(want)
	sort.Strings(dynamo)
	if !slices.Equal(dynamo, want) {
		t.Errorf("exporter policy DynamoDB actions = %v, want the calls ddb2pg export makes: %v", dynamo, want)
	}

	reader := map[string]bool{}
	for _, st := range policyStatements(t, m, m.one(t, "data", "aws_iam_policy_document", "backfill_reader")) {
		for _, act := range st.actions {
			reader[act] = true
			if act == "kms:Decrypt" && (st.forEach == nil || !refersTo(st.forEach, "var.kms_key_arn")) {
				t.Errorf("%s: kms:Decrypt must depend on var.kms_key_arn", st.where())
			}
		}
	}
	if len(reader) != 3 || !reader["s3:GetObject"] || !reader["s3:ListBucket"] || !reader["kms:Decrypt"] {
		t.Errorf("backfill reader actions = %v, want s3:GetObject, s3:ListBucket, kms:Decrypt", reader)
	}
}

var wildcardComment = regexp.MustCompile(`(?i)no resource-level permission|nothing narrower`)

func TestNoUndocumentedWildcards(t *testing.T) {
	for _, m := range loadModules(t) {
		for _, st := range allStatements(t, m) {
			if st.deny {
				continue // a Deny on "*" only narrows
			}
			for _, act := range st.actions {
				if strings.Contains(act, "*") {
					t.Errorf("%s: wildcard action %s", st.where(), act)
				}
			}
			if !st.wildcard() {
				continue
			}
			for _, act := range st.actions {
				if !slices.Contains(wildcardActions, act) {
					t.Errorf("%s: %s allowed on Resource \"*\"; scope it to its resource", st.where(), act)
				}
			}
			// The reason must be written next to it.
			lines := strings.Split(string(m.src[st.file]), "\n")
			r := st.block.Range()
			from := max(0, r.Start.Line-1-12)
			if !wildcardComment.MatchString(strings.Join(lines[from:r.End.Line], "\n")) {
				t.Errorf("%s: Resource \"*\" without a comment saying why nothing narrower exists", st.where())
			}
		}
		// Policies come from the checked documents (or a variable holding
		// one), never inline JSON or managed policies that bypass this test.
		for _, p := range m.blocks("resource", "aws_iam_role_policy") {
			e := p.Body.Attributes["policy"].Expr
			if _, ok := e.(*hclsyntax.ScopeTraversalExpr); !ok {
				t.Errorf("%s: aws_iam_role_policy %s: policy must be a data.aws_iam_policy_document or variable reference", m.dir, p.Labels[1])
			}
		}
		for _, typ := range []string{"aws_iam_role_policy_attachment", "aws_iam_policy_attachment", "aws_iam_policy"} {
			if bs := m.blocks("resource", typ); len(bs) > 0 {
				t.Errorf("%s: %s is not checked by this test; use aws_iam_role_policy with a policy document", m.dir, typ)
			}
		}
	}
}

// TestReferences does the provider-independent part of `terraform validate`:
// every var., local., data., module. and resource reference names something
// declared, and every module call passes exactly known variables, including
// all required ones.
func TestReferences(t *testing.T) {
	mods := loadModules(t)
	for _, m := range mods {
		declared := map[string]bool{}
		for _, b := range m.bodies {
			for _, blk := range b.Blocks {
				switch blk.Type {
				case "variable":
					declared["var."+blk.Labels[0]] = true
				case "locals":
					for name := range blk.Body.Attributes {
						declared["local."+name] = true
					}
				case "resource":
					declared[blk.Labels[0]+"."+blk.Labels[1]] = true
				case "data":
					declared["data."+blk.Labels[0]+"."+blk.Labels[1]] = true
				case "module":
					declared["module."+blk.Labels[0]] = true
				}
			}
		}
		var check func(body *hclsyntax.Body, blockType string, iterators []string)
		check = func(body *hclsyntax.Body, blockType string, iterators []string) {
			for _, attr := range body.Attributes {
				if blockType == "variable" && attr.Name == "type" {
					continue // a type expression: string, list(string), ...
				}
				for _, tr := range hclsyntax.Variables(attr.Expr) {
					checkRef(t, m, mods, declared, tr, iterators)
				}
			}
			for _, blk := range body.Blocks {
				its := iterators
				if blk.Type == "dynamic" {
					its = append(slices.Clone(iterators), blk.Labels[0])
				}
				check(blk.Body, blk.Type, its)
			}
		}
		for _, b := range m.bodies {
			check(b, "", nil)
		}

		for _, call := range m.blocks("module") {
			src, ok := literalString(call.Body.Attributes["source"].Expr)
			if !ok {
				t.Errorf("%s: module %s: source must be a literal", m.dir, call.Labels[0])
				continue
			}
			child := mods[filepath.ToSlash(filepath.Clean(filepath.Join(m.dir, src)))]
			if child == nil {
				t.Errorf("%s: module %s: source %s is not a module here", m.dir, call.Labels[0], src)
				continue
			}
			meta := []string{"source", "count", "for_each", "depends_on", "providers", "version"}
			for name := range call.Body.Attributes {
				if !slices.Contains(meta, name) && len(child.blocks("variable", name)) == 0 {
					t.Errorf("%s: module %s passes %s, which %s does not declare", m.dir, call.Labels[0], name, child.dir)
				}
			}
			for _, v := range child.blocks("variable") {
				if _, hasDefault := v.Body.Attributes["default"]; !hasDefault {
					if _, passed := call.Body.Attributes[v.Labels[0]]; !passed {
						t.Errorf("%s: module %s does not pass required variable %s", m.dir, call.Labels[0], v.Labels[0])
					}
				}
			}
		}
	}
}

func checkRef(t *testing.T, m *module, mods map[string]*module, declared map[string]bool, tr hcl.Traversal, iterators []string) {
	t.Helper()
	root := tr.RootName()
	switch root {
	case "each", "count", "path", "self", "terraform":
		return
	}
	if slices.Contains(iterators, root) {
		return
	}
	parts := strings.Split(traversalString(tr), ".")
	where := fmt.Sprintf("%s:%d", tr.SourceRange().Filename, tr.SourceRange().Start.Line)
	var key string
	switch root {
	case "var", "local", "module":
		if len(parts) < 2 {
			t.Errorf("%s: bare %s", where, root)
			return
		}
		key = root + "." + strings.TrimSuffix(parts[1], "[]")
	case "data":
		if len(parts) < 3 {
			t.Errorf("%s: incomplete data reference", where)
			return
		}
		key = strings.Join(parts[:3], ".")
	default:
		if len(parts) < 2 {
			t.Errorf("%s: unknown name %s", where, root)
			return
		}
		key = root + "." + strings.TrimSuffix(parts[1], "[]")
	}
	if !declared[key] {
		t.Errorf("%s: %s is not declared in %s", where, key, m.dir)
		return
	}
	if root == "module" && len(parts) >= 3 {
		name := strings.TrimSuffix(parts[1], "[]")
		out := parts[2]
		for _, call := range m.blocks("module", name) {
			src, _ := literalString(call.Body.Attributes["source"].Expr)
			child := mods[filepath.ToSlash(filepath.Clean(filepath.Join(m.dir, src)))]
			if child != nil && len(child.blocks("output", out)) == 0 {
				t.Errorf("%s: module %s has no output %s", where, name, out)
			}
		}
	}
}

// TestExampleTfvars keeps terraform.tfvars.example usable as is: it sets
// every required variable of the example and nothing the example lacks.
func TestExampleTfvars(t *testing.T) {
	m := loadModules(t)["examples/complete"]
	path := filepath.Join("..", "examples", "complete", "terraform.tfvars.example")
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, diags := hclparse.NewParser().ParseHCL(src, path)
	if diags.HasErrors() {
		t.Fatalf("parse %s: %s", path, diags.Error())
	}
	attrs := f.Body.(*hclsyntax.Body).Attributes
	for name, a := range attrs {
		if len(m.blocks("variable", name)) == 0 {
			t.Errorf("%s sets %s, which the example does not declare", path, name)
		}
		if _, ok := literal(a.Expr); !ok {
			t.Errorf("%s: %s must be a literal value", path, name)
		}
	}
	for _, v := range m.blocks("variable") {
		if _, hasDefault := v.Body.Attributes["default"]; !hasDefault {
			if _, ok := attrs[v.Labels[0]]; !ok {
				t.Errorf("%s does not set required variable %s", path, v.Labels[0])
			}
		}
	}
}

// TestValidations evaluates every variable's validation blocks with HCL,
// as Terraform would: defaults and the example's tfvars must pass, and a
// few values that would break a deployment must be refused.
func TestValidations(t *testing.T) {
	mods := loadModules(t)
	check := func(m *module, name string, v cty.Value) error {
		blk := m.one(t, "variable", name)
		ty, diags := typeexpr.TypeConstraint(blk.Body.Attributes["type"].Expr)
		if diags.HasErrors() {
			return fmt.Errorf("type: %s", diags.Error())
		}
		if v.IsNull() {
			v = cty.NullVal(ty)
		}
		cv, err := convert.Convert(v, ty)
		if err != nil {
			return fmt.Errorf("value %s does not convert to %s: %w", v.GoString(), ty.FriendlyName(), err)
		}
		ctx := &hcl.EvalContext{
			Variables: map[string]cty.Value{"var": cty.ObjectVal(map[string]cty.Value{name: cv})},
			Functions: tfFunctions,
		}
		for _, b := range blk.Body.Blocks {
			if b.Type != "validation" {
				continue
			}
			ok, diags := b.Body.Attributes["condition"].Expr.Value(ctx)
			if diags.HasErrors() {
				return fmt.Errorf("condition: %s", diags.Error())
			}
			if !ok.IsKnown() || ok.IsNull() || !ok.Type().Equals(cty.Bool) || ok.False() {
				msg, _ := literalString(b.Body.Attributes["error_message"].Expr)
				return fmt.Errorf("refused: %s", msg)
			}
		}
		return nil
	}

	for _, m := range mods {
		for _, v := range m.blocks("variable") {
			d, ok := v.Body.Attributes["default"]
			if !ok {
				continue
			}
			val, lit := literal(d.Expr)
			if !lit {
				t.Errorf("%s: variable %s: default is not a literal", m.dir, v.Labels[0])
				continue
			}
			if err := check(m, v.Labels[0], val); err != nil {
				t.Errorf("%s: variable %s: default: %v", m.dir, v.Labels[0], err)
			}
		}
	}

	example := mods["examples/complete"]
	path := filepath.Join("..", "examples", "complete", "terraform.tfvars.example")
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, diags := hclparse.NewParser().ParseHCL(src, path)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	for name, a := range f.Body.(*hclsyntax.Body).Attributes {
		if val, ok := literal(a.Expr); ok && len(example.blocks("variable", name)) == 1 {
			if err := check(example, name, val); err != nil {
				t.Errorf("%s: %s: %v", path, name, err)
			}
		}
	}

	str := cty.StringVal
	list := func(s ...string) cty.Value {
		var vs []cty.Value
		for _, x := range s {
			vs = append(vs, str(x))
		}
		return cty.TupleVal(vs)
	}
	cases := []struct {
		mod, name string
		val       cty.Value
		ok        bool
	}{
		{"modules/stream-consumer", "stream_arn", str("arn:aws:dynamodb:eu-west-1:123456789012:table/Orders/stream/2026-01-02T03:04:05.678"), true},
		{"modules/stream-consumer", "stream_arn", str("arn:aws:dynamodb:eu-west-1:123456789012:table/Orders"), false},
		{"modules/stream-consumer", "ttl_deletes", str("purge"), false},
		{"modules/stream-consumer", "parallelization_factor", cty.NumberIntVal(0), false},
		{"modules/stream-consumer", "maximum_record_age_in_seconds", cty.NumberIntVal(100000), false},
		{"modules/stream-consumer", "maximum_record_age_in_seconds", cty.NumberIntVal(-1), true},
		{"modules/stream-consumer", "maximum_retry_attempts", cty.NumberIntVal(-2), false},
		{"modules/stream-consumer", "subnet_ids", list("subnet-0123456789abcdef0"), true},
		{"modules/stream-consumer", "subnet_ids", list("sn-1"), false},
		{"modules/stream-consumer", "database_options", str("sslmode=verify-full&sslrootcert=/var/task/global-bundle.pem"), true},
		{"modules/stream-consumer", "database_url", str("mysql://x"), false},
		{"modules/stream-consumer", "name", str("this-name-is-far-too-long-for-the-suffixes-it-gets-added"), false},
		{"modules/export-bucket", "export_prefix", str("ddb2pg/Orders"), true},
		{"modules/export-bucket", "export_prefix", str("/ddb2pg"), false},
		{"modules/export-bucket", "export_prefix", str("a//b"), false},
		{"modules/export-bucket", "bucket_name", str("Acme_Exports"), false},
		{"modules/export-bucket", "table_arn", str("arn:aws:dynamodb:eu-west-1:123456789012:table/Orders"), true},
		{"modules/backfill-task", "export_uri", str("s3://acme-exports/ddb2pg/Orders/AWSDynamoDB/01767323045678-a1b2c3d4"), true},
		{"modules/backfill-task", "export_uri", str("s3://acme-exports/AWSDynamoDB/01767323045678-a1b2c3d4"), true},
		{"modules/backfill-task", "export_uri", str("s3://acme-exports/ddb2pg/Orders"), false},
		{"modules/backfill-task", "database_url", str("postgres://ddb2pg@db.example:5432/orders?sslmode=verify-full"), true},
		{"modules/backfill-task", "database_url", str("postgres://ddb2pg:secret@db.example:5432/orders"), false},
		{"modules/backfill-task", "export_reader_policy_json", str(`{"Version":"2012-10-17","Statement":[]}`), true},
		{"modules/backfill-task", "export_reader_policy_json", str(`not json`), false},
		{"modules/backfill-task", "memory", cty.NumberIntVal(256), false},
		{"modules/backfill-task", "task_count", cty.NumberIntVal(11), false},
		{"examples/complete", "region", str("eu-west"), false},
	}
	for _, c := range cases {
		err := check(mods[c.mod], c.name, c.val)
		if c.ok && err != nil {
			t.Errorf("%s: %s = %s: %v", c.mod, c.name, c.val.GoString(), err)
		}
		if !c.ok && err == nil {
			t.Errorf("%s: %s = %s passed validation", c.mod, c.name, c.val.GoString())
		}
	}
}

// tfFunctions are the Terraform functions the validations use: cty's
// standard library where it has them, the rest written as Terraform
// documents them.
var tfFunctions = map[string]function.Function{
	"can":      tryfunc.CanFunc,
	"regex":    stdlib.RegexFunc,
	"contains": stdlib.ContainsFunc,
	// Terraform's length also counts a string's characters.
	"length": function.New(&function.Spec{
		Params: []function.Parameter{{Name: "value", Type: cty.DynamicPseudoType}},
		Type:   function.StaticReturnType(cty.Number),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			if args[0].Type().Equals(cty.String) {
				return stdlib.Strlen(args[0])
			}
			return stdlib.Length(args[0])
		},
	}),
	"floor":      stdlib.FloorFunc,
	"jsondecode": stdlib.JSONDecodeFunc,
	"trimspace":  stdlib.TrimSpaceFunc,
	"alltrue": function.New(&function.Spec{
		Params: []function.Parameter{{Name: "list", Type: cty.List(cty.Bool)}},
		Type:   function.StaticReturnType(cty.Bool),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			for it := args[0].ElementIterator(); it.Next(); {
				if _, v := it.Element(); v.IsNull() || v.False() {
					return cty.False, nil
				}
			}
			return cty.True, nil
		},
	}),
	"startswith":  stringPredicate(strings.HasPrefix),
	"endswith":    stringPredicate(strings.HasSuffix),
	"strcontains": stringPredicate(strings.Contains),
}

func stringPredicate(f func(s, x string) bool) function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{Name: "str", Type: cty.String}, {Name: "x", Type: cty.String}},
		Type:   function.StaticReturnType(cty.Bool),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			return cty.BoolVal(f(args[0].AsString(), args[1].AsString())), nil
		},
	})
}
