package runtimediag

import (
	"fmt"
	"math"
	"reflect"
	"time"
)

// WithThresholds makes a Monitor's finding rules compare with th instead of DefaultThresholds():
// start from DefaultThresholds() and change the fields to tune. NewMonitor refuses thresholds
// that cannot be meant: a negative or non-finite value, a ClearRatio outside (0, 1], or a warning
// level above its critical one. A Monitor option.
func WithThresholds(th Thresholds) Option {
	return monitorOption{"WithThresholds", func(c *config) error {
		if err := th.validate(); err != nil {
			return fmt.Errorf("runtimediag: WithThresholds: %w", err)
		}
		c.monitor.thresholds = &th
		return nil
	}}
}

// validate says which field of t no rule could use as given.
func (t Thresholds) validate() error {
	v := reflect.ValueOf(t)
	for i := range v.NumField() {
		name, f := v.Type().Field(i).Name, v.Field(i)
		switch f.Kind() {
		case reflect.Float64:
			if x := f.Float(); math.IsNaN(x) || math.IsInf(x, 0) || x < 0 {
				return fmt.Errorf("%s is %v: want a finite value, not negative", name, x)
			}
		case reflect.Int, reflect.Int64:
			if x := f.Int(); x < 0 {
				if f.Type() == reflect.TypeFor[time.Duration]() {
					return fmt.Errorf("%s is %s: want a duration, not negative", name, time.Duration(x))
				}
				return fmt.Errorf("%s is %d: want a count, not negative", name, x)
			}
		}
	}
	if t.ClearRatio <= 0 || t.ClearRatio > 1 {
		return fmt.Errorf("ClearRatio is %v: want a ratio in (0, 1]", t.ClearRatio)
	}
	for _, p := range []struct {
		warning, critical string
		w, c              float64
	}{
		{"GCCPUWarning", "GCCPUCritical", t.GCCPUWarning, t.GCCPUCritical},
		{"CgroupNearWarning", "CgroupNearCritical", t.CgroupNearWarning, t.CgroupNearCritical},
		{"FDsWarning", "FDsCritical", t.FDsWarning, t.FDsCritical},
	} {
		if p.w > p.c {
			return fmt.Errorf("%s (%v) is above %s (%v): a warning cannot need more than the critical level", p.warning, p.w, p.critical, p.c)
		}
	}
	return nil
}
