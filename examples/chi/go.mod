module github.com/memdiag/memdiag/examples/chi

go 1.26.0

replace github.com/memdiag/memdiag => ../../

require (
	github.com/go-chi/chi/v5 v5.5.0
	github.com/memdiag/memdiag v0.0.0-00010101000000-000000000000
)

require (
	github.com/felixge/fgprof v0.9.5 // indirect
	github.com/google/pprof v0.0.0-20261105003125-4bf881d7fb0b // indirect
	github.com/prometheus/procfs v0.23.0 // indirect
	go.uber.org/multierr v1.10.0 // indirect
	go.uber.org/zap v1.28.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
)
