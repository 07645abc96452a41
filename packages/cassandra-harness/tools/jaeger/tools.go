// Builds Jaeger v2 (cmd/jaeger) from the Go module proxy for the project's trace tests. v2 releases
// carry no /v2 module path, so the module is required at the v1 tag
// that the same release commit carries (v1.76.0); go.sum pins every module's hash.
//go:build tools

package tools

import _ "github.com/jaegertracing/jaeger/cmd/jaeger"
