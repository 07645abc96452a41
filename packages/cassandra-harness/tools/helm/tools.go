// Builds Helm 3 (cmd/helm) from the Go module proxy for the chart tests (helm lint, helm template);
// go.sum pins every module's hash.
//go:build tools

package tools

import _ "helm.sh/helm/v3/cmd/helm"
