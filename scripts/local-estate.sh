#!/usr/bin/env bash
# From a fresh clone to a built, pushed and indexed sample estate on this machine:
#   1. tools (scripts/toolchain.sh: Debian packages, Go-built Pulumi/BuildKit/buildx/docker-build);
#   2. services (scripts/local-services.sh: TLS+auth registry, amd64 and arm64 BuildKit daemons);
#   3. stand-ins for the mirrored third-party images (scripts/standins.sh);
#   4. the `dev` stack in a local file backend (.local/state), its generated secrets and pins;
#   5. `pulumi up`, then the summary.
# Idempotent: run it again and it changes nothing. Extra arguments go to `pulumi up`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
log() { printf '[local] %s\n' "$*"; }

log "1/5 toolchain"
scripts/toolchain.sh
log "2/5 local services"
scripts/local-services.sh start
# shellcheck source=scripts/env.sh
source scripts/env.sh
[[ -d node_modules/@pulumi/pulumi ]] || { log "installing npm packages"; npm ci --no-audit --no-fund; }

log "3/5 stand-ins for mirrored images"
scripts/standins.sh >.local/standins.txt
mapfile -t PINS <.local/standins.txt

log "4/5 stack dev (state in .local/state)"
mkdir -p .local/state
if [[ ! -s .local/passphrase ]]; then (umask 077; openssl rand -hex 24 >.local/passphrase); fi
pulumi stack select dev --create --non-interactive >/dev/null
# shellcheck source=/dev/null
REGISTRY_PASSWORD="$(sed -n 's/^REGISTRY_PASSWORD=//p' .local/credentials.env | tail -n1)"
if ! current="$(pulumi config get registryPassword 2>/dev/null)" || [[ "$current" != "$REGISTRY_PASSWORD" ]]; then
  printf '%s' "$REGISTRY_PASSWORD" | pulumi config set --secret registryPassword --non-interactive >/dev/null
fi
unset REGISTRY_PASSWORD current
for pin in "${PINS[@]}"; do
  read -r name ref <<<"$pin"
  if [[ "$(pulumi config get --path "mirrorSources.$name" 2>/dev/null)" != "$ref" ]]; then
    pulumi config set --path "mirrorSources.$name" "$ref" --non-interactive >/dev/null
  fi
done

log "5/5 pulumi up"
pulumi up --yes --non-interactive --skip-preview "$@"
log "summary (image → tag → index and per-arch refs):"
pulumi stack output summary --json
