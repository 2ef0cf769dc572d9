#!/usr/bin/env bash
# The test command (README; .ci/run calls it). From a fresh clone it installs what it needs, then:
# type-check, lint, format check, unit tests (pure planner + Pulumi mocks), and the end-to-end test
# against the real local estate (Go-built Pulumi CLI and docker-build provider, two BuildKit daemons,
# the TLS+auth registry). Nothing is skipped: a missing prerequisite fails the run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
step() { printf '\n[test %s] === %s\n' "$(date +%H:%M:%S)" "$*"; }
t0=$SECONDS

step "toolchain (Debian packages, Go-built tools; cold: 30-60 minutes on 2 cores)"
scripts/toolchain.sh

step "npm packages"
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund
else
  echo "node_modules is up to date with package-lock.json"
fi

step "type-check";   npx tsc --noEmit
step "lint";         npx eslint .
step "format check"; npx prettier --check .
step "workflow lint"; if [[ -x .tools/bin/actionlint ]]; then .tools/bin/actionlint; else echo ".tools/bin/actionlint is missing: run scripts/toolchain.sh" >&2; exit 1; fi
step "unit tests";   npx mocha

step "local services and stand-in upstream images"
# --prod-registry: the second registry the promotion end-to-end test publishes into.
scripts/local-services.sh start --prod-registry
# shellcheck source=scripts/env.sh
source scripts/env.sh
mkdir -p .local
if [[ ! -s .local/passphrase ]]; then (umask 077; openssl rand -hex 24 >.local/passphrase); fi
scripts/standins.sh >.local/standins.txt

step "end-to-end test"
npx mocha --config .mocharc.e2e.json

step "all tests passed in $((SECONDS - t0))s"
