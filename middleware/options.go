package middleware

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"time"
)

// Option configures Handler and Instrument. Options are validated: a bad value makes the returned
// handler answer every request with 500 and the reason, and NewHandler/NewInstrument (which return
// an error) refuse it.
type Option interface{ apply(*config) error }

type optionFunc func(*config) error

func (f optionFunc) apply(c *config) error { return f(c) }

// config is shared by Handler and Instrument; each reads the fields that concern it.
type config struct {
	prefix      string
	authorize   func(*http.Request) bool
	maxDuration time.Duration
	routeFunc   func(*http.Request) string
	maxRoutes   int
	pprofLabels bool // WithPprofLabels (instrument.go)

	// The guard's deliberate openings (guard.go, options_trust.go).
	trustedProxies []netip.Prefix
	allowedHosts   []allowedHost
	allowedOrigins []string
}

func defaultConfig() config {
	return config{
		prefix:      "/debug/memdiag/",
		maxDuration: 60 * time.Second,
		maxRoutes:   100,
	}
}

func newConfig(opts []Option) (config, error) {
	c := defaultConfig()
	for _, o := range opts {
		if o == nil {
			return c, errors.New("middleware: nil option")
		}
		if err := o.apply(&c); err != nil {
			return c, err
		}
	}
	return c, nil
}

// WithPrefix mounts the handler tree under prefix instead of /debug/memdiag/. It must start and
// end with "/".
func WithPrefix(prefix string) Option {
	return optionFunc(func(c *config) error {
		if !strings.HasPrefix(prefix, "/") || !strings.HasSuffix(prefix, "/") {
			return fmt.Errorf("middleware: WithPrefix(%q): must start and end with /", prefix)
		}
		c.prefix = prefix
		return nil
	})
}

// WithAuthorizer decides who may read the handler tree. Without it only loopback callers are
// served (the remote address, never X-Forwarded-For); with it, exactly the requests it returns
// true for — loopback included — are served, and the rest get 403.
func WithAuthorizer(f func(*http.Request) bool) Option {
	return optionFunc(func(c *config) error {
		if f == nil {
			return errors.New("middleware: WithAuthorizer: nil function")
		}
		c.authorize = f
		return nil
	})
}

// WithMaxDuration bounds every request that takes a duration (?seconds=N); default 60 s.
func WithMaxDuration(d time.Duration) Option {
	return optionFunc(func(c *config) error {
		if d < time.Second || d > time.Hour {
			return fmt.Errorf("middleware: WithMaxDuration(%s): must be between 1s and 1h", d)
		}
		c.maxDuration = d
		return nil
	})
}

// WithRouteFunc names the route of a request for Instrument when it is not served by a
// ServeMux pattern (other routers). It must return a low-cardinality name, never a raw path.
func WithRouteFunc(f func(*http.Request) string) Option {
	return optionFunc(func(c *config) error {
		if f == nil {
			return errors.New("middleware: WithRouteFunc: nil function")
		}
		c.routeFunc = f
		return nil
	})
}

// WithMaxRoutes bounds how many distinct routes Instrument tracks (default 100); requests of
// further routes are counted under the overflow route "other".
func WithMaxRoutes(n int) Option {
	return optionFunc(func(c *config) error {
		if n < 1 || n > 10_000 {
			return fmt.Errorf("middleware: WithMaxRoutes(%d): must be between 1 and 10000", n)
		}
		c.maxRoutes = n
		return nil
	})
}
