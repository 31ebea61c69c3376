package runtimediag

import (
	"fmt"
	"slices"
)

// Leak suspects become findings here, whatever source found them: one rule per finding code,
// over the suspects that name it (AnalyzeInput.Leaks, computed before Analyze so that the
// findings and the report's Leaks section say the same). Each is an ordinary rule of the table,
// so the findings' hysteresis, their transition log lines (Warn when one appears or gets more
// certain) and the finding triggers apply unchanged.

// leakFindingCodes are the codes a suspect can raise, in table order.
var leakFindingCodes = []string{FindingHeapGrowingAtSite, FindingGoroutineGroupGrowing, FindingGoroutinesLeaked, FindingMappingsGrowing}

// allRules is the rule table: the rules of findings.go, then one rule per leak finding code.
var allRules = slices.Concat(rules, leakRules())

func leakRules() []rule {
	out := make([]rule, len(leakFindingCodes))
	for i, code := range leakFindingCodes {
		out[i] = rule{code: code, severity: SeverityWarning, check: func(c *ruleContext) *Finding { return leakFinding(c.in.Leaks, code) }}
	}
	return out
}

// leakSeverity is how a suspect's certainty reads as a finding: a proof is critical, a
// significant trend a warning, a weak one information to watch.
func leakSeverity(certainty string) Severity {
	switch certainty {
	case LeakProven:
		return SeverityCritical
	case LeakSignificant:
		return SeverityWarning
	}
	return SeverityInfo
}

// leakFinding is the finding of the suspects that raise code, nil when none does. Suspects are
// ranked (rankSuspects): the first names the finding, the others are counted.
func leakFinding(l *Leaks, code string) *Finding {
	if l == nil {
		return nil
	}
	var first *LeakSuspect
	n := 0
	sev := Severity("")
	for i := range l.Suspects {
		s := &l.Suspects[i]
		if s.Finding != code {
			continue
		}
		n++
		if first == nil {
			first = s
		}
		if v := leakSeverity(s.Certainty); severityRank(v) > severityRank(sev) {
			sev = v
		}
	}
	if first == nil {
		return nil
	}
	head := first.Headline
	if n > 1 {
		head = fmt.Sprintf("%s (and %d more suspects of this kind: see the leaks section)", head, n-1)
	}
	rateUnit := first.Unit + "/s"
	if first.Unit == "bytes" {
		rateUnit = "bytes/s"
	}
	evidence := []Evidence{
		ev("growth_per_second", first.GrowthPerSecond, rateUnit),
		ev("current", first.Current, first.Unit),
		ev("suspects", float64(n), "count"),
	}
	if first.PValue != nil {
		evidence = append(evidence, ev("p_value", *first.PValue, "ratio"))
	}
	return &Finding{Severity: sev, Headline: head, Evidence: evidence, Advice: first.Advice}
}
