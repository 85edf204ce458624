#!/usr/bin/env bash
# Build helm and kubeconform, the deployment tests' tools, from the Go module proxy into
# .local/bin. Each tool is a Go module of its own here (deploy/tools/<tool>/go.mod pins it and
# every dependency), so one tool's dependencies never move another's. A binary is rebuilt only
# when its go.mod or go.sum changed: a stamp beside it holds their digest.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
tools="$root/deploy/tools"
bin="${OPORA_TOOLS_BIN:-$root/.local/bin}"

if ! command -v go >/dev/null 2>&1; then
  echo "deploy/tools/build.sh: Go 1.26 or newer is needed to build helm and kubeconform" \
       "(Debian: apt-get install golang; or the Go distribution of your platform)" >&2
  exit 1
fi

build() {
  local name="$1" package="$2" ldflags="$3"
  local module="$tools/$name" stamp="$bin/$name.stamp" digest
  digest="$(cat "$module/go.mod" "$module/go.sum" | sha256sum | cut -d' ' -f1)"
  if [[ -x "$bin/$name" && -f "$stamp" && "$(cat "$stamp")" == "$digest" ]]; then
    return
  fi
  echo "building $name from the Go module proxy (once; cached in $bin)"
  mkdir -p "$bin"
  (cd "$module" && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$bin/$name" "$package")
  echo "$digest" >"$stamp"
}

version_of() {  # the version of module $2 that deploy/tools/$1/go.mod pins
  awk -v m="$2" '$1 == m { print $2 }' "$tools/$1/go.mod"
}

# What helm's own Makefile stamps into a release: its version, and the Kubernetes version it
# assumes when none is given (from the client-go it is built with: v0.N.x is Kubernetes 1.N).
helm_version="$(version_of helm helm.sh/helm/v3)"
client_go="$(version_of helm k8s.io/client-go)"
k8s_minor="$(echo "$client_go" | cut -d. -f2)"
build helm helm.sh/helm/v3/cmd/helm "-s -w \
  -X helm.sh/helm/v3/internal/version.version=$helm_version \
  -X helm.sh/helm/v3/internal/version.gitTreeState=clean \
  -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 \
  -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$k8s_minor \
  -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 \
  -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$k8s_minor"

build kubeconform github.com/yannh/kubeconform/cmd/kubeconform \
  "-s -w -X main.version=$(version_of kubeconform github.com/yannh/kubeconform)"
