// Builds promtool (cmd/promtool) from the Go module proxy to check the Prometheus alert rules;
// go.sum pins every module's hash. Prometheus 3.x releases are tagged v0.3xx.y as Go modules.
//go:build tools

package tools

import _ "github.com/prometheus/prometheus/cmd/promtool"
