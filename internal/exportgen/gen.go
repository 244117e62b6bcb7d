package exportgen

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
)

// Random-source tags: each kind of entity draws from its own stream so that,
// say, changing how an order is built never changes a customer's name.
const (
	tagOrder uint64 = iota + 1
	tagCustomer
	tagProduct
	tagLayout
	tagBad
	tagFiles
)

// gen builds orders for one normalized Config. It holds no per-order state
// (only the few bad-order numbers), so it is safe for concurrent use.
type gen struct {
	cfg   Config
	a, b  uint64      // export position -> order index permutation
	bad   map[int]int // order index (0-based) -> index into badKinds
	start time.Time   // creation time of the first order
	step  time.Duration
}

func newGen(cfg Config) *gen {
	cfg = cfg.normalized()
	g := &gen{cfg: cfg, bad: map[int]int{}}
	n := uint64(max(cfg.Orders, 1))
	// An affine permutation scatters order numbers over the files the way
	// DynamoDB's hash order does, while staying O(1) in memory.
	lr := g.rand(tagLayout, 0)
	g.a = uint64(float64(n)*0.6180339887) | 1
	for gcd(g.a, n) != 1 {
		g.a++
	}
	g.b = lr.Uint64N(n)
	// Bad orders are spread evenly over the order numbers after the edge
	// cases, so they land in different files and far from ORD-000001.
	first := 0
	if cfg.EdgeCases {
		first = len(edgeCases)
	}
	if cfg.BadItems > 0 {
		span := cfg.Orders - first
		for k := 0; k < cfg.BadItems; k++ {
			g.bad[first+(2*k+1)*span/(2*cfg.BadItems)] = k % len(badKinds)
		}
	}
	const year = 365 * 24 * time.Hour
	g.start = cfg.ExportTime.Add(-year)
	g.step = year / time.Duration(n)
	return g
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// numberAt maps an export position to the 0-based order index written there.
func (g *gen) numberAt(pos int) int {
	return int((g.a*uint64(pos) + g.b) % uint64(g.cfg.Orders))
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func (g *gen) rand(tag uint64, n int) *rand.Rand {
	return seeded(g.cfg.Seed, tag, n)
}

// weighted returns an index drawn with the given integer weights.
func weighted(r *rand.Rand, w []int) int {
	total := 0
	for _, x := range w {
		total += x
	}
	v := r.IntN(total)
	for i, x := range w {
		if v < x {
			return i
		}
		v -= x
	}
	return len(w) - 1
}

func pick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

// money renders cents as a decimal with exactly two places.
func money(cents int64) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	return fmt.Sprintf("%s%d.%02d", sign, cents/100, cents%100)
}

const isoMillis = "2006-01-02T15:04:05.000Z07:00"

// ---- customers ----

type customer struct {
	id, name, email string
	hasName         bool
	email0          bool // email attribute missing on every order of this customer
	address         ddbitem.Value
}

var (
	firstNames = []string{"James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda",
		"David", "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas",
		"Sarah", "Carlos", "Maria", "Wei", "Priya", "Ahmed", "Fatima", "Yuki", "Olga", "Lars", "Chloé",
		"José", "Aisha", "Noah", "Emma", "Liam", "Olivia", "Mateo", "Sofia", "Hiroshi", "Ananya", "Kwame", "Ingrid"}
	lastNames = []string{"Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
		"Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
		"Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark",
		"Ramirez", "Lewis", "Robinson", "O'Connor", "Nguyen", "Kim", "Patel", "Müller", "Rossi", "Novak",
		"Kowalski", "Silva", "Tanaka", "Van der Berg"}
	unicodeNames = []string{"张伟", "李娜", "山田 太郎", "김민준", "Zoë 🌸 Ångström", "Ολυμπία Παπαδοπούλου",
		"Дмитрий Иванов", "محمد علي", "Nguyễn Văn An", "🦄 Unicorn Fan", "Søren Kierkegård", "श्रेया शर्मा"}
	emailDomains = []string{"example.com", "example.org", "example.net", "mail.example.com"}
	streets      = []string{"Main St", "Oak Ave", "Maple Dr", "Cedar Ln", "Park Rd", "Elm St", "Lake View Blvd", "Hillside Way"}
	cities       = []struct{ city, country, postal string }{
		{"Seattle", "US", "981%02d"}, {"Austin", "US", "787%02d"}, {"Boston", "US", "021%02d"},
		{"Toronto", "CA", "M5V %dA1"}, {"London", "GB", "EC1A %dBB"}, {"Berlin", "DE", "101%02d"},
		{"Paris", "FR", "750%02d"}, {"Madrid", "ES", "280%02d"}, {"Tokyo", "JP", "100-00%02d"},
		{"Sydney", "AU", "20%02d"}, {"São Paulo", "BR", "01310-%03d"}, {"Mumbai", "IN", "4000%02d"},
	}
)

// asciiFold lowercases a name into an email local part.
func asciiFold(s string) string {
	var sb strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			sb.WriteRune(r)
		case r == 'é':
			sb.WriteByte('e')
		case r == 'ü':
			sb.WriteByte('u')
		case r == ' ':
			sb.WriteByte('.')
		}
	}
	return sb.String()
}

// customer c (0-based) is derived from c alone, so every order of a customer
// carries the same name, email and address, as the shared table needs.
func (g *gen) customer(c int) customer {
	r := g.rand(tagCustomer, c)
	first, last := pick(r, firstNames), pick(r, lastNames)
	cu := customer{id: fmt.Sprintf("CUST-%05d", c+1), hasName: true}
	cu.name = first + " " + last
	local := asciiFold(first) + "." + asciiFold(last)
	if r.IntN(3) == 0 {
		local += strconv.Itoa(c + 1)
	}
	cu.email = local + "@" + pick(r, emailDomains)
	if g.cfg.EdgeCases {
		if c%29 == 3 {
			cu.name = unicodeNames[(c/29)%len(unicodeNames)]
			cu.email = fmt.Sprintf("customer%d@example.com", c+1)
		}
		if c%31 == 7 {
			cu.email0 = true
		}
	}
	city := pick(r, cities)
	addr := map[string]ddbitem.Value{
		"line1":      ddbitem.Str(fmt.Sprintf("%d %s", 1+r.IntN(9999), pick(r, streets))),
		"city":       ddbitem.Str(city.city),
		"postalCode": ddbitem.Str(fmt.Sprintf(city.postal, r.IntN(100))),
		"country":    ddbitem.Str(city.country),
	}
	if r.IntN(4) == 0 {
		addr["line2"] = ddbitem.Str(fmt.Sprintf("Apt %d%c", 1+r.IntN(30), 'A'+rune(r.IntN(6))))
	}
	cu.address = ddbitem.MapOf(addr)
	return cu
}

// pickCustomer draws customer indexes skewed towards low numbers: a few
// customers order often, the tail rarely or never.
func (g *gen) pickCustomer(r *rand.Rand) int {
	u := r.Float64()
	return min(int(float64(g.cfg.Customers)*u*u), g.cfg.Customers-1)
}

// ---- products ----

type product struct {
	id, name string
	cents    int64 // list price
}

var (
	adjectives = []string{"Ergonomic", "Rustic", "Sleek", "Compact", "Deluxe", "Wireless", "Organic",
		"Vintage", "Smart", "Portable", "Heavy-Duty", "Eco", "Classic", "Ultra-Light"}
	materials = []string{"Steel", "Wooden", "Cotton", "Leather", "Bamboo", "Ceramic", "Carbon", "Glass",
		"Aluminum", "Wool", "Linen", "Granite"}
	nouns = []string{"Chair", "Lamp", "Keyboard", "Backpack", "Mug", "Headphones", "Notebook",
		"Water Bottle", "Desk", "Blender", "Jacket", "Sneakers", "Watch", "Speaker", "Charger", "Tent"}
)

func (g *gen) product(p int) product {
	r := g.rand(tagProduct, p)
	pr := product{id: fmt.Sprintf("PROD-%05d", p+1)}
	pr.name = pick(r, adjectives) + " " + pick(r, materials) + " " + pick(r, nouns)
	// Log-uniform list prices from $1.99 to $499.99, with retail endings.
	c := int64(math.Exp(math.Log(199) + r.Float64()*(math.Log(49999)-math.Log(199))))
	pr.cents = c/100*100 + []int64{99, 99, 49, 95, 0}[r.IntN(5)]
	if pr.cents < 99 {
		pr.cents = 99
	}
	return pr
}

func (g *gen) pickProduct(r *rand.Rand) int {
	u := r.Float64()
	return min(int(float64(g.cfg.Products)*math.Pow(u, 1.6)), g.cfg.Products-1)
}

// ---- orders ----

// line is one element of an order's items list before it becomes a Value.
type line struct {
	productID, productName string
	quantity               int64
	cents                  int64
}

func (l line) value() ddbitem.Value {
	return ddbitem.MapOf(map[string]ddbitem.Value{
		"productId":   ddbitem.Str(l.productID),
		"productName": ddbitem.Str(l.productName),
		"quantity":    ddbitem.Num(strconv.FormatInt(l.quantity, 10)),
		"price":       ddbitem.Num(money(l.cents)),
	})
}

// setLines writes items and the matching total (the sum of the lines).
func setLines(it ddbitem.Item, lines []line) {
	vals := make([]ddbitem.Value, len(lines))
	var total int64
	for i, l := range lines {
		vals[i] = l.value()
		total += l.quantity * l.cents
	}
	it["items"] = ddbitem.ListOf(vals...)
	it["total"] = ddbitem.Num(money(total))
}

var (
	linesWeights    = []int{32, 26, 16, 10, 7, 4, 3, 2} // 1..8 lines
	quantityWeights = []int{70, 18, 7, 3, 2}            // 1..5
	tagWords        = []string{"gift", "priority", "first-order", "wholesale", "fragile", "subscription", "holiday"}
	coupons         = []string{"SAVE10", "WELCOME5", "FREESHIP", "SPRING24", "VIP20"}
	noteTexts       = []string{"Leave at the front door.", "Please ring twice.", "Deliver after 5pm.",
		"Call on arrival.", "Gift — no invoice in the box please.", "Fragile, handle with care."}
)

// order builds order index n (0-based). Edge-case and bad orders start as a
// regular order and then get their one twist, so they carry every usual
// attribute too.
func (g *gen) order(n int) ddbitem.Item {
	r := g.rand(tagOrder, n)
	it := ddbitem.Item{"orderId": ddbitem.Str(OrderID(n + 1))}

	cu := g.customer(g.pickCustomer(r))
	it["customerId"] = ddbitem.Str(cu.id)
	it["customerName"] = ddbitem.Str(cu.name)
	if !cu.email0 {
		it["customerEmail"] = ddbitem.Str(cu.email)
	}
	it["shippingAddress"] = cu.address

	created := g.start.Add(time.Duration(n)*g.step + time.Duration(r.Int64N(int64(max(g.step, 1)))))
	created = created.Truncate(time.Millisecond)
	it["createdAt"] = ddbitem.Str(created.Format(isoMillis))
	age := g.cfg.ExportTime.Sub(created)
	var status string
	switch {
	case age < 2*24*time.Hour:
		status = []string{"PENDING", "PAID", "CANCELLED"}[weighted(r, []int{45, 50, 5})]
	case age < 10*24*time.Hour:
		status = []string{"PAID", "SHIPPED", "CANCELLED"}[weighted(r, []int{20, 70, 10})]
	default:
		status = []string{"DELIVERED", "CANCELLED", "SHIPPED"}[weighted(r, []int{88, 9, 3})]
	}
	it["status"] = ddbitem.Str(status)
	if status == "CANCELLED" {
		// A TTL attribute: epoch seconds, the way DynamoDB TTL wants them.
		it["expiresAt"] = ddbitem.Num(strconv.FormatInt(created.Add(90*24*time.Hour).Unix(), 10))
	}

	nl := 1 + weighted(r, linesWeights)
	lines := make([]line, 0, nl)
	seen := make(map[int]bool, nl)
	for len(lines) < nl {
		p := g.pickProduct(r)
		if seen[p] && len(seen) < g.cfg.Products {
			continue // a cart merges repeats into the quantity
		}
		seen[p] = true
		pr := g.product(p)
		cents := pr.cents
		if r.IntN(100) < 15 {
			cents = cents * int64(100-[]int{10, 15, 20, 25, 30}[r.IntN(5)]) / 100
		}
		lines = append(lines, line{pr.id, pr.name, int64(1 + weighted(r, quantityWeights)), cents})
	}
	setLines(it, lines)

	it["channel"] = ddbitem.Str([]string{"web", "ios", "android", "pos"}[weighted(r, []int{55, 20, 20, 5})])
	switch weighted(r, []int{75, 15, 10}) {
	case 0:
		it["paymentMethod"] = ddbitem.MapOf(map[string]ddbitem.Value{
			"type":  ddbitem.Str("card"),
			"brand": ddbitem.Str(pick(r, []string{"visa", "mastercard", "amex"})),
			"last4": ddbitem.Str(fmt.Sprintf("%04d", r.IntN(10000))),
		})
	case 1:
		it["paymentMethod"] = ddbitem.MapOf(map[string]ddbitem.Value{"type": ddbitem.Str("paypal")})
	default:
		it["paymentMethod"] = ddbitem.MapOf(map[string]ddbitem.Value{
			"type":         ddbitem.Str("gift_card"),
			"balanceAfter": ddbitem.Num(money(r.Int64N(10000))),
		})
	}
	if r.IntN(100) < 35 {
		k := 1 + r.IntN(3)
		perm := r.Perm(len(tagWords))[:k]
		tags := make([]string, k)
		for i, p := range perm {
			tags[i] = tagWords[p]
		}
		it["tags"] = ddbitem.StrSet(tags...) // unsorted, as DynamoDB returns sets
	}
	if r.IntN(100) < 60 {
		it["giftWrap"] = ddbitem.Bool(r.IntN(5) == 0)
	}
	switch v := r.IntN(100); {
	case v < 15:
		it["couponCode"] = ddbitem.Str(pick(r, coupons))
	case v < 25:
		it["couponCode"] = ddbitem.Null() // cleared by the application
	}
	if r.IntN(100) < 10 {
		it["notes"] = ddbitem.Str(pick(r, noteTexts))
	}
	it["version"] = ddbitem.Num(strconv.Itoa(1 + weighted(r, []int{50, 30, 15, 5})))

	if g.cfg.EdgeCases {
		if n < len(edgeCases) {
			edgeCases[n].apply(g, it, r)
		} else if _, bad := g.bad[n]; !bad {
			g.sprinkle(it, r)
		}
	}
	if k, ok := g.bad[n]; ok {
		badKinds[k].apply(it, r)
	}
	return it
}

// seeded is the random source for entity n of a kind (tag) under seed.
func seeded(seed int64, tag uint64, n int) *rand.Rand {
	return rand.New(rand.NewPCG(splitmix(uint64(seed)^splitmix(tag)), splitmix(uint64(n))))
}
