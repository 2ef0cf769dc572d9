#!/usr/bin/env bash
# Runs the push-race stress test (test/stress/pushRace.ts) against scratch registries on loopback:
# distribution v3 (.tools/bin/registry, what the local services run) and, for comparison, Debian's
# 2.8 (/usr/bin/docker-registry) when it is installed. Each gets an empty storage folder, plain HTTP on
# 127.0.0.1 and no auth (the race is in storage, not in TLS or auth), and is stopped (by its pid) and
# removed afterwards. Never touches the local services or their storage.
#
# Usage: test/stress/run.sh [pushRace.ts flags, e.g. --clients 8 --rounds 12 --seconds 120]
# Exit 0 when v3 had no failure; 2.8's result is printed, not judged.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
umask 077
log() { printf '[stress] %s\n' "$*" >&2; }

declare -A BIN=([v3]="$ROOT/.tools/bin/registry")
[[ -x /usr/bin/docker-registry ]] && BIN[2.8]=/usr/bin/docker-registry
[[ -x "${BIN[v3]}" ]] || { log "ERROR: ${BIN[v3]} missing (scripts/toolchain.sh builds it)"; exit 1; }

free_port() {
  local p
  for p in $(seq 5901 5999); do (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }; done
  return 1
}

PIDS=() DIRS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "${DIRS[@]}"
}
trap cleanup EXIT

v3_rc=0
for impl in v3 2.8; do
  [[ -n "${BIN[$impl]:-}" ]] || { log "$impl: not installed, skipped"; continue; }
  dir="$(mktemp -d "${TMPDIR:-/tmp}/dayu-stress-$impl.XXXXXX")"; DIRS+=("$dir")
  port="$(free_port)" || { log "ERROR: no free port in 5901-5999"; exit 1; }
  cat >"$dir/config.yml" <<EOF
version: 0.1
log: { level: warn, formatter: text }
storage:
  filesystem: { rootdirectory: $dir/data }
  delete: { enabled: true }
http:
  addr: 127.0.0.1:$port
  secret: $(openssl rand -hex 16)
EOF
  env -i PATH=/usr/bin:/bin "${BIN[$impl]}" serve "$dir/config.yml" >"$dir/registry.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 60); do
    [[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v2/" || true)" == 200 ]] && break
    sleep 0.5
  done
  version="$("${BIN[$impl]}" --version 2>/dev/null | head -n1)"
  log "$impl ($version) on 127.0.0.1:$port: pushing"
  rc=0
  node -r "$ROOT/node_modules/ts-node/register/transpile-only" "$ROOT/test/stress/pushRace.ts" \
    --address "127.0.0.1:$port" --insecure "$@" | sed "s/^/$impl /" || rc=$?
  if ((rc)); then
    log "$impl: failures; the registry logged:"
    # The registry's own error codes, without the HEAD misses ("blob unknown") every push starts with.
    grep -o 'err\.code="[^"]*"' "$dir/registry.log" | grep -v '"blob unknown"' | sort | uniq -c | sort -rn >&2 || true
  fi
  [[ "$impl" == v3 ]] && v3_rc=$rc
done
exit "$v3_rc"
