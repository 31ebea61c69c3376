// Package docscheck holds no code: its tests fail when docs/ drifts from the code — the report's
// JSON schema against real reports and the Report type, and every finding code, RSS category,
// CLI command, HTTP endpoint and Prometheus metric name against the documents that list them, and
// procself's list of procfs-backed readers against its use of procfs; every Go snippet of the
// README, docs/ and the package doc comments is type-checked against the code.
package docscheck
