package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddb2pg/ddb2pg/internal/exportgen"
	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
)

// touched is the summary live prints last, one JSON line.
type touched struct {
	New      []string `json:"new"`
	Shrunk   string   `json:"shrunk"`
	Grown    string   `json:"grown"`
	Status   string   `json:"status"`
	Renamed  string   `json:"renamed"`
	Customer string   `json:"renamed_customer"`
	Deleted  []string `json:"deleted"`
	Rejected string   `json:"rejected"`
}

// candidates are the regular orders of the export (neither an edge case nor
// a bad item), in order-number order, with how many orders each customer has.
func candidates(cfg exportgen.Config) (regular []ddbitem.Item, perCustomer map[string]int) {
	special := map[string]bool{}
	if cfg.EdgeCases {
		for _, e := range exportgen.EdgeCases() {
			special[e.OrderID] = true
		}
	}
	for _, b := range exportgen.BadOrders(cfg) {
		special[b.OrderID] = true
	}
	perCustomer = map[string]int{}
	byID := map[string]ddbitem.Item{}
	for it := range exportgen.Orders(cfg) {
		perCustomer[it["customerId"].Str]++
		if !special[it["orderId"].Str] {
			byID[it["orderId"].Str] = it
		}
	}
	for n := 1; n <= cfg.Orders; n++ {
		if it, ok := byID[exportgen.OrderID(n)]; ok {
			regular = append(regular, it)
		}
	}
	return regular, perCustomer
}

func lines(it ddbitem.Item) []ddbitem.Value {
	if v, ok := it["items"]; ok && v.Kind == ddbitem.L {
		return v.List
	}
	return nil
}

// totalOf sums quantity × price over lines, as the generator does.
func totalOf(ls []ddbitem.Value) string {
	sum := new(big.Rat)
	for _, l := range ls {
		q, ok1 := new(big.Rat).SetString(l.Map["quantity"].Str)
		p, ok2 := new(big.Rat).SetString(l.Map["price"].Str)
		if ok1 && ok2 {
			sum.Add(sum, q.Mul(q, p))
		}
	}
	return sum.FloatString(2)
}

func summarize(ls []ddbitem.Value) string {
	parts := make([]string, len(ls))
	for i, l := range ls {
		parts[i] = fmt.Sprintf("%s×%s", l.Map["productId"].Str, l.Map["quantity"].Str)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func live(ctx context.Context, cl *dynamodb.Client, c common) error {
	regular, perCustomer := candidates(c.cfg)
	used := map[string]bool{}
	pick := func(ok func(ddbitem.Item) bool) (ddbitem.Item, error) {
		for _, it := range regular {
			if id := it["orderId"].Str; !used[id] && ok(it) {
				used[id] = true
				return it, nil
			}
		}
		return nil, fmt.Errorf("the export has no order to pick (use more --orders)")
	}
	anyOrder := func(ddbitem.Item) bool { return true }
	table := aws.String(c.table)
	var t touched
	now := time.Now().UTC()

	// New orders, beyond the export's numbers, modelled on regular orders.
	for k := 1; k <= 4; k++ {
		tmpl, err := pick(anyOrder)
		if err != nil {
			return err
		}
		it := ddbitem.Item{}
		for a, v := range tmpl {
			it[a] = v
		}
		id := exportgen.OrderID(c.cfg.Orders + k)
		it["orderId"] = ddbitem.Str(id)
		it["createdAt"] = ddbitem.Str(now.Add(time.Duration(k) * time.Millisecond).Format("2006-01-02T15:04:05.000Z07:00"))
		it["status"] = ddbitem.Str("PENDING")
		delete(it, "expiresAt") // the TTL attribute of a CANCELLED template
		what := fmt.Sprintf("new order, customer %s, %d lines, total %s", it["customerId"].Str, len(lines(it)), it["total"].Str)
		if k == 4 {
			// One the mapping rejects: a quantity that is not a number.
			ls := lines(it)
			if len(ls) == 0 {
				ls = []ddbitem.Value{ddbitem.MapOf(map[string]ddbitem.Value{"productId": ddbitem.Str("PROD-000001"), "price": ddbitem.Num("1.00")})}
			}
			first := map[string]ddbitem.Value{}
			for a, v := range ls[0].Map {
				first[a] = v
			}
			first["quantity"] = ddbitem.Str("abc")
			it["items"] = ddbitem.ListOf(append([]ddbitem.Value{ddbitem.MapOf(first)}, ls[1:]...)...)
			what = `new order whose items[0].quantity is "abc" (valid in DynamoDB, rejected by the mapping: quantity is integer)`
			t.Rejected = id
		} else {
			t.New = append(t.New, id)
		}
		if _, err := cl.PutItem(ctx, &dynamodb.PutItemInput{TableName: table, Item: it.AttributeValues()}); err != nil {
			return fmt.Errorf("PutItem %s: %w", id, err)
		}
		fmt.Printf("PutItem    %s  %s\n", id, what)
	}

	// Shrink: an order of 4+ lines keeps its first 2.
	it, err := pick(func(it ddbitem.Item) bool { return len(lines(it)) >= 4 })
	if err != nil {
		return err
	}
	ls := lines(it)
	var rm []string
	for i := 2; i < len(ls); i++ {
		rm = append(rm, fmt.Sprintf("#items[%d]", i))
	}
	t.Shrunk = it["orderId"].Str
	newTotal := totalOf(ls[:2])
	_, err = cl.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: table, Key: key(t.Shrunk),
		UpdateExpression:          aws.String("REMOVE " + strings.Join(rm, ", ") + " SET #total = :t"),
		ExpressionAttributeNames:  map[string]string{"#items": "items", "#total": "total"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":t": ddbitem.Num(newTotal).AttributeValue()}})
	if err != nil {
		return fmt.Errorf("UpdateItem %s: %w", t.Shrunk, err)
	}
	fmt.Printf("UpdateItem %s  items shrink %d → 2 lines %s → %s, total %s → %s\n", t.Shrunk, len(ls),
		summarize(ls), summarize(ls[:2]), it["total"].Str, newTotal)

	// Grow: an order of 1 line gets 2 more.
	it, err = pick(func(it ddbitem.Item) bool { return len(lines(it)) == 1 })
	if err != nil {
		return err
	}
	ls = lines(it)
	donor := lines(regular[len(regular)-1])
	if len(donor) == 0 {
		donor = ls
	}
	extra := []ddbitem.Value{}
	for i := 0; len(extra) < 2; i++ {
		l := map[string]ddbitem.Value{}
		for a, v := range donor[i%len(donor)].Map {
			l[a] = v
		}
		l["quantity"] = ddbitem.Num(fmt.Sprint(i + 2))
		extra = append(extra, ddbitem.MapOf(l))
	}
	grown := append(append([]ddbitem.Value{}, ls...), extra...)
	t.Grown = it["orderId"].Str
	newTotal = totalOf(grown)
	_, err = cl.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: table, Key: key(t.Grown),
		UpdateExpression:         aws.String("SET #items = list_append(#items, :more), #total = :t"),
		ExpressionAttributeNames: map[string]string{"#items": "items", "#total": "total"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":more": ddbitem.ListOf(extra...).AttributeValue(),
			":t": ddbitem.Num(newTotal).AttributeValue()}})
	if err != nil {
		return fmt.Errorf("UpdateItem %s: %w", t.Grown, err)
	}
	fmt.Printf("UpdateItem %s  items grow %d → %d lines %s → %s, total %s → %s\n", t.Grown, len(ls), len(grown),
		summarize(ls), summarize(grown), it["total"].Str, newTotal)

	// A status change: the order is delivered.
	it, err = pick(func(it ddbitem.Item) bool { s := it["status"].Str; return s == "SHIPPED" || s == "PAID" })
	if err != nil {
		return err
	}
	t.Status = it["orderId"].Str
	_, err = cl.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: table, Key: key(t.Status),
		UpdateExpression:          aws.String("SET #s = :s"),
		ExpressionAttributeNames:  map[string]string{"#s": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":s": ddbitem.Str("DELIVERED").AttributeValue()}})
	if err != nil {
		return fmt.Errorf("UpdateItem %s: %w", t.Status, err)
	}
	fmt.Printf("UpdateItem %s  status %s → DELIVERED\n", t.Status, it["status"].Str)

	// A customer rename, on an order whose customer has no other order (the
	// customers table is shared: renaming a customer seen on other orders
	// would leave those items disagreeing about the name).
	it, err = pick(func(it ddbitem.Item) bool {
		_, named := it["customerName"]
		return named && perCustomer[it["customerId"].Str] == 1
	})
	if err != nil {
		return err
	}
	t.Renamed, t.Customer = it["orderId"].Str, it["customerId"].Str
	newName := it["customerName"].Str + " (renamed)"
	_, err = cl.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: table, Key: key(t.Renamed),
		UpdateExpression:          aws.String("SET customerName = :n"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":n": ddbitem.Str(newName).AttributeValue()}})
	if err != nil {
		return fmt.Errorf("UpdateItem %s: %w", t.Renamed, err)
	}
	fmt.Printf("UpdateItem %s  customer %s renamed %q → %q\n", t.Renamed, t.Customer, it["customerName"].Str, newName)

	// Two deletes.
	for range 2 {
		it, err = pick(anyOrder)
		if err != nil {
			return err
		}
		id := it["orderId"].Str
		if _, err := cl.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: table, Key: key(id)}); err != nil {
			return fmt.Errorf("DeleteItem %s: %w", id, err)
		}
		t.Deleted = append(t.Deleted, id)
		fmt.Printf("DeleteItem %s  (%d lines)\n", id, len(lines(it)))
	}

	b, err := json.Marshal(t)
	if err != nil {
		return err
	}
	fmt.Printf("touched: %s\n", b)
	return nil
}

func key(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"orderId": &types.AttributeValueMemberS{Value: id}}
}
