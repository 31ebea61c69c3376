package runtimediag

import (
	"errors"
	"fmt"
	"strings"

	"go.uber.org/zap"
)

// Option configures a Collector (and, through it, a Monitor). Options are validated: a bad value is
// an error from the constructor, never a panic.
type Option interface{ apply(*config) error }

type optionFunc func(*config) error

func (f optionFunc) apply(c *config) error { return f(c) }

type config struct {
	root         string
	logger       *zap.Logger
	envAllow     []string
	maxThreads   int
	maxFDTargets int
	fullSources  SourceSet
}

func defaultConfig() config {
	return config{
		root:         "/",
		logger:       zap.NewNop(),
		maxThreads:   10_000,
		maxFDTargets: 4_096,
		fullSources:  FullSources,
	}
}

// WithRoot reads /proc and /sys below dir instead of "/": for tests on recorded files, or for a
// sidecar that sees the host's /proc mounted elsewhere.
func WithRoot(dir string) Option {
	return optionFunc(func(c *config) error {
		if dir == "" {
			return errors.New("runtimediag: WithRoot: empty directory")
		}
		c.root = dir
		return nil
	})
}

// WithLogger sets the logger for the collector's own problems (a source that stopped being
// readable, for example). The default logs nothing.
func WithLogger(l *zap.Logger) Option {
	return optionFunc(func(c *config) error {
		if l == nil {
			return errors.New("runtimediag: WithLogger: nil logger")
		}
		c.logger = l
		return nil
	})
}

// WithEnvAllowlist names environment variables whose values may be kept in a snapshot. Every other
// variable is kept as a key only: values often hold secrets. A name ending in "*" matches every
// key with that prefix.
func WithEnvAllowlist(keys ...string) Option {
	return optionFunc(func(c *config) error {
		for _, k := range keys {
			if k == "" || k == "*" || strings.ContainsAny(k, "=\x00") {
				return fmt.Errorf("runtimediag: WithEnvAllowlist: invalid key %q", k)
			}
		}
		c.envAllow = append(c.envAllow, keys...)
		return nil
	})
}

// WithMaxThreads bounds how many threads a full snapshot describes (default 10,000); past it the
// snapshot says it was truncated.
func WithMaxThreads(n int) Option {
	return optionFunc(func(c *config) error {
		if n <= 0 {
			return fmt.Errorf("runtimediag: WithMaxThreads: %d is not positive", n)
		}
		c.maxThreads = n
		return nil
	})
}

// WithMaxFDTargets bounds how many file descriptor targets a full snapshot keeps (default 4,096);
// the count of descriptors is always exact.
func WithMaxFDTargets(n int) Option {
	return optionFunc(func(c *config) error {
		if n <= 0 {
			return fmt.Errorf("runtimediag: WithMaxFDTargets: %d is not positive", n)
		}
		c.maxFDTargets = n
		return nil
	})
}

// WithFullSources changes what a full snapshot reads, e.g. FullSources &^ Set(SourceSmaps) |
// Set(SourceSmapsRollup) trades per-mapping detail for a cheaper rollup. The cheap sources are
// always read.
func WithFullSources(s SourceSet) Option {
	return optionFunc(func(c *config) error {
		if s&^AllSources != 0 {
			return fmt.Errorf("runtimediag: WithFullSources: unknown sources in %#x", uint32(s))
		}
		c.fullSources = s | CheapSources
		return nil
	})
}
