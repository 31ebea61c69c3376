package promexport

import (
	"errors"
	"fmt"
)

// Option configures NewCollector. Options are validated: a bad value is an error from
// NewCollector, never a panic.
type Option interface{ apply(*config) error }

type optionFunc func(*config) error

func (f optionFunc) apply(c *config) error { return f(c) }

type config struct {
	maxRoutes int
}

func defaultConfig() config { return config{maxRoutes: 100} }

func newConfig(opts []Option) (config, error) {
	c := defaultConfig()
	for _, o := range opts {
		if o == nil {
			return c, errors.New("promexport: nil option")
		}
		if err := o.apply(&c); err != nil {
			return c, err
		}
	}
	return c, nil
}

// WithMaxRoutes bounds how many routes the memdiag_route_* families carry (default 100, the
// middleware's own default). Instrument already bounds its routes; this bound holds whatever
// feeds the Monitor, so that a scrape's size cannot grow with traffic. Routes past the bound are
// the ones with the fewest requests, and are left out.
func WithMaxRoutes(n int) Option {
	return optionFunc(func(c *config) error {
		if n < 1 || n > 10_000 {
			return fmt.Errorf("promexport: WithMaxRoutes(%d): must be between 1 and 10000", n)
		}
		c.maxRoutes = n
		return nil
	})
}
