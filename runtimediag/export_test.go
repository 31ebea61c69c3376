package runtimediag

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// AnalyzeFixture loads testdata/analyze/<name>.json — two recorded snapshots of one process around
// a workload, the attribution of the newer one and the allocation sites — as the input Analyze
// takes, for the package's external examples.
func AnalyzeFixture(name string) (AnalyzeInput, error) {
	b, err := os.ReadFile(filepath.Join(analyzeFixtureDir, name+".json"))
	if err != nil {
		return AnalyzeInput{}, err
	}
	var f analyzeFixture
	if err := json.Unmarshal(b, &f); err != nil {
		return AnalyzeInput{}, fmt.Errorf("%s: %w", name, err)
	}
	return f.input()
}
