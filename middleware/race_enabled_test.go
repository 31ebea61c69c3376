//go:build race

package middleware

// raceEnabled: the race detector allocates, so allocation budgets are skipped under -race.
const raceEnabled = true
