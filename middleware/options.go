package middleware

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"time"
)

// Option configures Handler or Instrument: each option's doc says which. Options are validated,
// and one given to the constructor it does not belong to is refused with an error naming both
// (an Instrument option on Handler would otherwise do nothing, silently). NewHandler and
// NewInstrument return the error; Handler and Instrument, the convenience forms, fail safe (see
// each).
type Option interface {
	apply(*config) error
	// owner is the constructor the option belongs to, and name the option, for errors.
	owner() constructor
	name() string
}

// constructor names what an option configures.
type constructor string

const (
	forHandler    constructor = "Handler"
	forInstrument constructor = "Instrument"
)

// namedOption is an option of one constructor.
type namedOption struct {
	n  string
	of constructor
	f  func(*config) error
}

func (o namedOption) apply(c *config) error { return o.f(c) }
func (o namedOption) owner() constructor    { return o.of }
func (o namedOption) name() string          { return o.n }

func handlerOption(name string, f func(*config) error) Option {
	return namedOption{n: name, of: forHandler, f: f}
}

func instrumentOption(name string, f func(*config) error) Option {
	return namedOption{n: name, of: forInstrument, f: f}
}

// config is shared by Handler and Instrument; each reads the fields its options set.
type config struct {
	prefix      string
	authorize   func(*http.Request) bool
	maxDuration time.Duration
	routeFunc   func(*http.Request) string
	maxRoutes   int
	pprofLabels bool // WithPprofLabels (instrument.go)
	// runtimeControl turns on POST gc and setgc (WithRuntimeControl, runtime_control.go).
	runtimeControl bool

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

// newConfig applies opts for the constructor c, refusing nil options and options of the other
// constructor.
func newConfig(c constructor, opts []Option) (config, error) {
	cfg := defaultConfig()
	for i, o := range opts {
		if o == nil {
			return cfg, fmt.Errorf("middleware: %s: option %d is nil", c, i)
		}
		if o.owner() != c {
			return cfg, fmt.Errorf("middleware: %s: %s configures %s, not %s", c, o.name(), o.owner(), c)
		}
		if err := o.apply(&cfg); err != nil {
			return cfg, err
		}
	}
	return cfg, nil
}

// WithPrefix mounts the handler tree under prefix instead of /debug/memdiag/. It must start and
// end with "/". A Handler option.
func WithPrefix(prefix string) Option {
	return handlerOption("WithPrefix", func(c *config) error {
		if !strings.HasPrefix(prefix, "/") || !strings.HasSuffix(prefix, "/") {
			return fmt.Errorf("middleware: WithPrefix(%q): must start and end with /", prefix)
		}
		c.prefix = prefix
		return nil
	})
}

// WithAuthorizer decides who may read the handler tree. Without it only loopback callers are
// served (the remote address, never X-Forwarded-For); with it, exactly the requests it returns
// true for — loopback included — are served, and the rest get 403. A Handler option.
func WithAuthorizer(f func(*http.Request) bool) Option {
	return handlerOption("WithAuthorizer", func(c *config) error {
		if f == nil {
			return errors.New("middleware: WithAuthorizer: nil function")
		}
		c.authorize = f
		return nil
	})
}

// WithMaxDuration bounds every request that takes a duration (?seconds=N); default 60 s. A
// Handler option.
func WithMaxDuration(d time.Duration) Option {
	return handlerOption("WithMaxDuration", func(c *config) error {
		if d < time.Second || d > time.Hour {
			return fmt.Errorf("middleware: WithMaxDuration(%s): must be between 1s and 1h", d)
		}
		c.maxDuration = d
		return nil
	})
}

// WithRouteFunc names the route of a request for Instrument when it is not served by a
// ServeMux pattern (other routers). It must return a low-cardinality name, never a raw path. An
// Instrument option.
func WithRouteFunc(f func(*http.Request) string) Option {
	return instrumentOption("WithRouteFunc", func(c *config) error {
		if f == nil {
			return errors.New("middleware: WithRouteFunc: nil function")
		}
		c.routeFunc = f
		return nil
	})
}

// WithMaxRoutes bounds how many distinct routes Instrument tracks (default 100); requests of
// further routes are counted under the overflow route "other". An Instrument option.
func WithMaxRoutes(n int) Option {
	return instrumentOption("WithMaxRoutes", func(c *config) error {
		if n < 1 || n > 10_000 {
			return fmt.Errorf("middleware: WithMaxRoutes(%d): must be between 1 and 10000", n)
		}
		c.maxRoutes = n
		return nil
	})
}
