// Package benchmarks measures memdiag against its peers in the same run: client_golang's Go and
// process collectors, runtime.ReadMemStats, and the floor of reading every runtime/metrics key plus
// statm. It is a module of its own so that the peers' dependencies never reach memdiag's users.
//
//	cd benchmarks && go test -run '^$' -bench . -benchmem -count 10 | tee /tmp/peers.txt
//
// docs/performance.md records the results.
package benchmarks
