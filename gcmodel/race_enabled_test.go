//go:build race

package gcmodel_test

// raceEnabled: the validation's children are not race-built and the test body has no concurrency
// of its own, so it runs once, in the plain test run.
const raceEnabled = true
