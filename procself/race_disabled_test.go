//go:build !race

package procself

// raceEnabled: the race detector allocates, so allocation budgets are skipped under -race.
const raceEnabled = false
