#!/usr/bin/env bash
# Installs everything the local estate and the end-to-end test need, idempotently:
#   - Debian packages (runc, QEMU user emulation, openssl, htpasswd, busybox for both arches);
#   - Go-built tools into .tools/bin: the Pulumi CLI, its Node.js language host, the docker-build
#     provider plugin, BuildKit's buildkitd and buildx, the distribution v3 registry, actionlint.
# A tool already present at the wanted version is not rebuilt (its version is recorded in a stamp file
# next to it). A cold run compiles several large Go programs on 2 cores: expect 15-30 minutes.
#
# Usage: scripts/toolchain.sh [--no-apt]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${DAYU_TOOLS_DIR:-$ROOT/.tools}"
BIN="$TOOLS/bin"
WRAP="$TOOLS/wrappers"
mkdir -p "$BIN" "$WRAP"

# --- Wanted versions -------------------------------------------------------------------------------
# The Go module proxy serves pulumi/pkg only at this release; sdk/v3 is pinned to the same release.
PULUMI_VERSION="v3.259.0"
# The Node.js language host is its own module today, which the proxy does not serve. sdk/v3 v3.68.0 still
# carries it as a package (nodejs/cmd/pulumi-language-nodejs); it speaks the same language-host gRPC
# protocol, and the Node.js SDK it runs comes from the project's node_modules.
LANGHOST_SDK_VERSION="v3.68.0"
DOCKER_BUILD_VERSION="v0.0.22"
# BuildKit and buildx at the versions the docker-build provider is built against.
BUILDKIT_VERSION="v0.31.0"
BUILDX_VERSION="v0.35.0"
# The local registry: distribution v3 from its Go module. Debian's docker-registry (2.8) truncated a
# file before rewriting it in place (PutContent), so a blob link read while another push of the same
# layer rewrote it looked absent and manifest PUTs failed with "blob unknown"; v3 writes a temporary
# file and renames it (README "The local estate").
DISTRIBUTION_VERSION="v3.1.2"
# The GitHub Actions workflow linter the CI lint step runs.
ACTIONLINT_VERSION="v1.7.12"

APT_PACKAGES=(runc qemu-user-static binfmt-support openssl apache2-utils ca-certificates jq curl)

log() { printf '[toolchain %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { printf '[toolchain] ERROR: %s\n' "$*" >&2; exit 1; }

# have NAME VERSION: true when .tools/bin/NAME exists and was built at VERSION.
have() { [[ -x "$BIN/$1" && "$(cat "$BIN/.$1.version" 2>/dev/null)" == "$2" ]]; }
stamp() { echo "$2" >"$BIN/.$1.version"; }

# go_fetch MODULE VERSION: make sure the proxy serves it, with a message naming it when it does not.
go_fetch() {
  local dir="$1" mod="$2" ver="$3"
  if ! (cd "$dir" && go mod download "$mod@$ver" >/dev/null 2>"$dir/download.err"); then
    cat "$dir/download.err" >&2
    die "the Go module proxy does not serve $mod@$ver; cannot build it here (no fallback to mocks)"
  fi
}

# wrapper DIR MODULE VERSION [EXTRA_GO_MOD_LINES]: a throwaway module that requires MODULE@VERSION, so
# that modules whose own go.mod has replace/exclude directives (which `go install` refuses) can be built.
wrapper() {
  local dir="$WRAP/$1" mod="$2" ver="$3" extra="${4:-}"
  rm -rf "$dir"; mkdir -p "$dir"
  printf 'module dayu.local/toolwrapper/%s\n\ngo 1.24\n\nrequire %s %s\n%s\n' "$1" "$mod" "$ver" "$extra" >"$dir/go.mod"
  printf 'package tools\n' >"$dir/tools.go"
  go_fetch "$dir" "$mod" "$ver"
  echo "$dir"
}

# build_in DIR OUT PKG [LDFLAGS] [TAGS]: compile; -mod=mod lets go add the requirements PKG needs.
build_in() {
  local dir="$1" out="$2" pkg="$3" ldflags="${4:-}" tags="${5:-}" started=$SECONDS
  log "  compiling $pkg (this is the slow part)"
  # A heartbeat, since `go build` is silent for minutes on 2 cores.
  (while sleep 60; do log "  ... still compiling $pkg ($((SECONDS - started))s)"; done) &
  local beat=$!
  if ! (cd "$dir" && GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -tags "$tags" -ldflags "-s -w $ldflags" -o "$out" "$pkg"); then
    kill "$beat" 2>/dev/null
    die "could not build $pkg: see the go error above (a module the proxy does not serve is named there)"
  fi
  kill "$beat" 2>/dev/null
  log "  built $(basename "$out") in $((SECONDS - started))s"
}

install_apt() {
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if ((${#missing[@]})); then
    log "installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    log "Debian packages present"
  fi
}

# busybox-static for amd64 and arm64: the only root filesystem the local base images are made of.
install_busybox() {
  local dir="$TOOLS/busybox"
  if [[ -x "$dir/amd64/bin/busybox" && -x "$dir/arm64/bin/busybox" ]]; then
    log "busybox (amd64, arm64) present"; return
  fi
  log "fetching busybox-static for amd64 and arm64 from Debian"
  dpkg --print-foreign-architectures | grep -qx arm64 || { dpkg --add-architecture arm64; apt-get update -qq; }
  local tmp; tmp="$(mktemp -d)"
  (cd "$tmp" && apt-get download -qq busybox-static:amd64 busybox-static:arm64 >/dev/null) \
    || { apt-get update -qq; (cd "$tmp" && apt-get download -qq busybox-static:amd64 busybox-static:arm64 >/dev/null); }
  for arch in amd64 arm64; do
    rm -rf "$dir/$arch"; mkdir -p "$dir/$arch"
    dpkg-deb -x "$tmp"/busybox-static_*_"$arch".deb "$tmp/x-$arch"
    mkdir -p "$dir/$arch/bin"; cp "$tmp/x-$arch/bin/busybox" "$dir/$arch/bin/busybox"
  done
  rm -rf "$tmp"
}

build_pulumi() {
  if have pulumi "$PULUMI_VERSION"; then log "pulumi $PULUMI_VERSION present"; return; fi
  log "building the Pulumi CLI $PULUMI_VERSION from its Go module (cold: 10-20 minutes)"
  local dir
  dir="$(wrapper pulumi github.com/pulumi/pulumi/pkg/v3 "$PULUMI_VERSION" "require github.com/pulumi/pulumi/sdk/v3 $PULUMI_VERSION
replace github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e")"
  build_in "$dir" "$BIN/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi \
    "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION"
  stamp pulumi "$PULUMI_VERSION"
}

build_langhost() {
  if have pulumi-language-nodejs "$LANGHOST_SDK_VERSION"; then log "pulumi-language-nodejs present"; return; fi
  log "building pulumi-language-nodejs from sdk/v3 $LANGHOST_SDK_VERSION"
  local dir
  dir="$(wrapper langhost github.com/pulumi/pulumi/sdk/v3 "$LANGHOST_SDK_VERSION" "replace golang.org/x/text => golang.org/x/text v0.3.6")"
  build_in "$dir" "$BIN/pulumi-language-nodejs" github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs \
    "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$LANGHOST_SDK_VERSION"
  stamp pulumi-language-nodejs "$LANGHOST_SDK_VERSION"
}

# Dynamic providers (the estate's IndexGuard) run through this small launcher script, which the SDK's
# Go module ships in sdk/nodejs/dist; no compilation.
install_dynamic_launcher() {
  local name=pulumi-resource-pulumi-nodejs
  if have "$name" "$PULUMI_VERSION"; then log "$name present"; return; fi
  log "installing $name from github.com/pulumi/pulumi/sdk/v3@$PULUMI_VERSION"
  local dir
  dir="$(cd "$WRAP" && go mod download -json "github.com/pulumi/pulumi/sdk/v3@$PULUMI_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
  [[ -f "$dir/nodejs/dist/$name" ]] || die "github.com/pulumi/pulumi/sdk/v3@$PULUMI_VERSION has no nodejs/dist/$name"
  install -m 0755 "$dir/nodejs/dist/$name" "$BIN/$name"
  stamp "$name" "$PULUMI_VERSION"
}

build_docker_build() {
  local name=pulumi-resource-docker-build
  if have "$name" "$DOCKER_BUILD_VERSION"; then log "$name $DOCKER_BUILD_VERSION present"; return; fi
  log "building the docker-build provider $DOCKER_BUILD_VERSION (cold: 5-10 minutes)"
  # `go install pkg@version` would work but asks the proxy for the module's version list (to report
  # deprecations), which the proxy here refuses; the wrapper module avoids that query.
  # The provider imports the Java and .NET code generators only to put two metadata structs into its
  # schema's `language` section (used when generating SDKs, never when running). The proxy does not serve
  # those modules, so the wrapper replaces them with modules declaring just those two structs.
  local dir
  dir="$(wrapper docker-build github.com/pulumi/pulumi-docker-build "$DOCKER_BUILD_VERSION" \
"replace github.com/pulumi/pulumi-java => ./shims/java
replace github.com/pulumi/pulumi-dotnet/pulumi-language-dotnet/v3 => ./shims/dotnet")"
  mkdir -p "$dir/shims/java/pkg/codegen/java" "$dir/shims/dotnet/codegen"
  printf 'module github.com/pulumi/pulumi-java\n\ngo 1.22\n' >"$dir/shims/java/go.mod"
  cat >"$dir/shims/java/pkg/codegen/java/java.go" <<'GO'
// Package java declares the schema metadata struct of pulumi-java's code generator.
package java

type PackageInfo struct {
	BuildFiles                      string            `json:"buildFiles,omitempty"`
	GradleNexusPublishPluginVersion string            `json:"gradleNexusPublishPluginVersion,omitempty"`
	Dependencies                    map[string]string `json:"dependencies,omitempty"`
}
GO
  printf 'module github.com/pulumi/pulumi-dotnet/pulumi-language-dotnet/v3\n\ngo 1.22\n' >"$dir/shims/dotnet/go.mod"
  cat >"$dir/shims/dotnet/codegen/codegen.go" <<'GO'
// Package codegen declares the schema metadata struct of pulumi-dotnet's code generator.
package codegen

type CSharpPackageInfo struct {
	RespectSchemaVersion bool              `json:"respectSchemaVersion,omitempty"`
	PackageReferences    map[string]string `json:"packageReferences,omitempty"`
}
GO
  build_in "$dir" "$BIN/$name" github.com/pulumi/pulumi-docker-build/provider/cmd/$name \
    "-X github.com/pulumi/pulumi-docker-build/provider.Version=$DOCKER_BUILD_VERSION"
  stamp "$name" "$DOCKER_BUILD_VERSION"
}

# The docker-build provider in the CLI's plugin cache, under the name and version the program asks for:
# PULUMI_HOME is .tools/pulumi (scripts/env.sh). Found on PATH instead, the CLI uses it with the warning
# "using pulumi-resource-docker-build from $PATH" at every load (up to five a run); scripts/env.sh sets
# PULUMI_IGNORE_AMBIENT_PLUGINS so that .tools/bin is not searched. The language host and the dynamic
# provider launcher are "bundled" plugins, found next to the pulumi binary without that search.
install_provider_plugin() {
  local name=docker-build ver="${DOCKER_BUILD_VERSION#v}"
  local cached="$TOOLS/pulumi/plugins/resource-$name-v$ver/pulumi-resource-$name"
  if [[ -x "$cached" ]] && cmp -s "$cached" "$BIN/pulumi-resource-$name"; then
    log "plugin resource $name $ver in the plugin cache"; return
  fi
  log "installing plugin resource $name $ver into the plugin cache (.tools/pulumi)"
  PULUMI_HOME="$TOOLS/pulumi" PULUMI_SKIP_UPDATE_CHECK=1 "$BIN/pulumi" plugin install resource "$name" "$ver" \
    --file "$BIN/pulumi-resource-$name" --reinstall >/dev/null
  [[ -x "$cached" ]] || die "pulumi plugin install put no $cached"
}

build_buildkitd() {
  if have buildkitd "$BUILDKIT_VERSION"; then log "buildkitd $BUILDKIT_VERSION present"; return; fi
  log "building buildkitd $BUILDKIT_VERSION (cold: 5-10 minutes)"
  local dir
  dir="$(wrapper buildkit github.com/moby/buildkit "$BUILDKIT_VERSION")"
  build_in "$dir" "$BIN/buildkitd" github.com/moby/buildkit/cmd/buildkitd \
    "-X github.com/moby/buildkit/version.Version=$BUILDKIT_VERSION" "osusergo netgo static_build"
  stamp buildkitd "$BUILDKIT_VERSION"
}

build_buildx() {
  if have buildx "$BUILDX_VERSION"; then log "buildx $BUILDX_VERSION present"; return; fi
  log "building buildx $BUILDX_VERSION (cold: 5-10 minutes)"
  local dir
  dir="$(wrapper buildx github.com/docker/buildx "$BUILDX_VERSION")"
  build_in "$dir" "$BIN/buildx" github.com/docker/buildx/cmd/buildx \
    "-X github.com/docker/buildx/version.Version=$BUILDX_VERSION"
  stamp buildx "$BUILDX_VERSION"
}

build_registry() {
  if have registry "$DISTRIBUTION_VERSION"; then log "registry (distribution) $DISTRIBUTION_VERSION present"; return; fi
  log "building the distribution registry $DISTRIBUTION_VERSION (cold: ~4 minutes)"
  local dir
  dir="$(wrapper registry github.com/distribution/distribution/v3 "$DISTRIBUTION_VERSION")"
  build_in "$dir" "$BIN/registry" github.com/distribution/distribution/v3/cmd/registry \
    "-X github.com/distribution/distribution/v3/version.version=$DISTRIBUTION_VERSION"
  stamp registry "$DISTRIBUTION_VERSION"
}

build_actionlint() {
  if have actionlint "$ACTIONLINT_VERSION"; then log "actionlint $ACTIONLINT_VERSION present"; return; fi
  log "building actionlint $ACTIONLINT_VERSION (cold: ~1 minute)"
  local dir
  dir="$(wrapper actionlint github.com/rhysd/actionlint "$ACTIONLINT_VERSION")"
  build_in "$dir" "$BIN/actionlint" github.com/rhysd/actionlint/cmd/actionlint \
    "-X github.com/rhysd/actionlint.version=$ACTIONLINT_VERSION"
  stamp actionlint "$ACTIONLINT_VERSION"
}

# Supply chain (issue 10): cosign signs and attests, syft writes the SBOMs. Versions sit with their
# functions so this block merges as one piece; notes and measured build times in docs/supply-chain.md.
COSIGN_VERSION="v3.1.3"
SYFT_VERSION="v1.57.1"
build_cosign() {
  if have cosign "$COSIGN_VERSION"; then log "cosign $COSIGN_VERSION present"; return; fi
  log "building cosign $COSIGN_VERSION (cold: 10-30 minutes)"
  local dir
  dir="$(wrapper cosign github.com/sigstore/cosign/v3 "$COSIGN_VERSION")"
  build_in "$dir" "$BIN/cosign" github.com/sigstore/cosign/v3/cmd/cosign \
    "-X sigs.k8s.io/release-utils/version.gitVersion=$COSIGN_VERSION -X sigs.k8s.io/release-utils/version.gitTreeState=clean"
  stamp cosign "$COSIGN_VERSION"
}

build_syft() {
  if have syft "$SYFT_VERSION"; then log "syft $SYFT_VERSION present"; return; fi
  log "building syft $SYFT_VERSION (cold: 10-20 minutes)"
  local dir
  dir="$(wrapper syft github.com/anchore/syft "$SYFT_VERSION")"
  build_in "$dir" "$BIN/syft" github.com/anchore/syft/cmd/syft "-X main.version=${SYFT_VERSION#v}"
  stamp syft "$SYFT_VERSION"
}

main() {
  command -v go >/dev/null || die "Go is required to build the toolchain (go not on PATH)"
  [[ "${1:-}" == "--no-apt" ]] || { install_apt; install_busybox; }
  build_docker_build
  build_buildx
  build_buildkitd
  build_registry
  build_actionlint
  build_langhost
  build_pulumi
  install_dynamic_launcher
  install_provider_plugin
  build_cosign
  build_syft
  log "done: $(ls "$BIN" | tr '\n' ' ')"
}

main "$@"
