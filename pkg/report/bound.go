package report

import (
	"fmt"
	"math"
	"strconv"
)

// SampleBound is what a sample says about the whole table: with Divergent
// of Items sampled items divergent, the divergent-item rate of the table is
// below UpperRate with the given confidence (exact one-sided binomial,
// Clopper-Pearson).
type SampleBound struct {
	Items      int64   `json:"items"`
	Divergent  int64   `json:"divergent"`
	Confidence float64 `json:"confidence"`
	UpperRate  float64 `json:"upper_rate"`
}

// NewSampleBound computes the 95% bound for divergent of items.
func NewSampleBound(items, divergent int64) *SampleBound {
	const conf = 0.95
	return &SampleBound{Items: items, Divergent: divergent, Confidence: conf,
		UpperRate: BinomialUpper(items, divergent, conf)}
}

// Describe is the one-line statement the renderers show, e.g. "0 divergent
// in 100000 sampled items: divergent-item rate below 0.0030% (95%
// confidence, exact binomial)".
func (b *SampleBound) Describe() string {
	return fmt.Sprintf("%d divergent in %d sampled items: divergent-item rate below %s%% (%g%% confidence, exact binomial)",
		b.Divergent, b.Items, Percent(b.UpperRate), b.Confidence*100)
}

// Percent renders a rate as a percentage with two significant digits and
// no exponent (2.9957e-05 -> "0.0030").
func Percent(rate float64) string {
	p := rate * 100
	if p <= 0 {
		return "0"
	}
	if p >= 10 {
		return strconv.FormatFloat(p, 'f', 1, 64)
	}
	decimals := 1 - int(math.Floor(math.Log10(p)))
	return strconv.FormatFloat(p, 'f', decimals, 64)
}

// BinomialUpper returns the exact one-sided upper confidence bound on the
// success probability p after k successes in n trials: the p at which
// P(X <= k) = 1 - conf for X ~ Binomial(n, p). For k = 0 that is
// 1 - (1-conf)^(1/n); for k >= n it is 1; for n = 0 nothing is known (1).
func BinomialUpper(n, k int64, conf float64) float64 {
	if n <= 0 || k >= n {
		return 1
	}
	alpha := 1 - conf
	if k == 0 {
		return -math.Expm1(math.Log(alpha) / float64(n))
	}
	// P(X <= k) falls as p rises: bisect on p.
	lo, hi := 0.0, 1.0
	for range 200 {
		mid := (lo + hi) / 2
		if binomialCDF(n, k, mid) > alpha {
			lo = mid
		} else {
			hi = mid
		}
		if hi-lo < 1e-15 {
			break
		}
	}
	return hi
}

// binomialCDF is P(X <= k) for X ~ Binomial(n, p), summed in log space.
func binomialCDF(n, k int64, p float64) float64 {
	if p <= 0 {
		return 1
	}
	if p >= 1 {
		return 0
	}
	lp, lq := math.Log(p), math.Log1p(-p)
	ln1, _ := math.Lgamma(float64(n) + 1)
	var logs []float64
	maxL := math.Inf(-1)
	for i := int64(0); i <= k; i++ {
		a, _ := math.Lgamma(float64(i) + 1)
		b, _ := math.Lgamma(float64(n-i) + 1)
		l := ln1 - a - b + float64(i)*lp + float64(n-i)*lq
		logs = append(logs, l)
		maxL = max(maxL, l)
	}
	var sum float64
	for _, l := range logs {
		sum += math.Exp(l - maxL)
	}
	return math.Min(1, math.Exp(maxL)*sum)
}
