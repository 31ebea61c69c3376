//go:build !race

package gcmodel_test

const raceEnabled = false
