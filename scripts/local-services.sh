#!/usr/bin/env bash
# Local services a Pulumi stack of this repo builds against, on this machine, loopback only:
#   - registry         TLS + htpasswd distribution v3 registry (.tools/bin/registry) on 127.0.0.1:5443
#   - buildkitd-amd64  BuildKit daemon (OCI worker, linux/amd64 only), mTLS on tcp://127.0.0.1:9101
#   - buildkitd-arm64  BuildKit daemon (OCI worker, linux/arm64 only, RUN steps under QEMU user
#                      emulation through binfmt_misc), mTLS on tcp://127.0.0.1:9102
# plus everything they need: a local CA of this checkout (name-constrained to the local names, trusted
# by the system store under a file name unique to this checkout while the services run, so Go programs
# on the host trust the registry), server and client certificates, generated registry credentials, the
# qemu-aarch64 binfmt handler, and the buildx `remote` builders dayu-amd64 / dayu-arm64 (in
# DOCKER_CONFIG=.local/docker, so ~/.docker is never touched).
#
# Usage: scripts/local-services.sh start [--prod-registry|--no-prod-registry]|stop|status|env
#   start   idempotent; leaves healthy services alone, (re)starts the others, waits for readiness
#   stop    SIGTERM, bounded wait, then SIGKILL; removes this checkout's CA from the trust store
#   status  one line per service; exit 0 only when all (enabled) services are up
#   env     `export` lines to eval: eval "$(scripts/local-services.sh env)"
#
# Optional, off unless asked for: a second registry standing for production (promotion end to end,
# docs/workflow.md), `prod-registry`: the same distribution binary on its own port (default 5444,
# DAYU_PROD_REGISTRY_PORT), its own storage (.local/prod-registry/data), its own server certificate
# from this checkout's CA, and its own generated credentials (user dayu-prod, .local/prod-credentials.env,
# PROD_REGISTRY_USERNAME / PROD_REGISTRY_PASSWORD; not in .local/docker/config.json: a promoting stack
# passes them itself). `start --prod-registry` (or DAYU_PROD_REGISTRY_PORT set) turns it on, and it is
# remembered in .local/run/ports.env: later start/stop/status include it until `start --no-prod-registry`.
# The first registry is the same with or without it.
#
# Environment overrides: DAYU_REGISTRY_PORT (5443), DAYU_BUILDKIT_AMD64_PORT (9101),
# DAYU_BUILDKIT_ARM64_PORT (9102), DAYU_PROD_REGISTRY_PORT (5444, and turns the prod registry on),
# DAYU_START_TIMEOUT (seconds per service, 90), DAYU_TOOLS_DIR (.tools).
# The ports a `start` used are kept in .local/run/ports.env and reused by later commands (and by
# scripts/env.sh) until other overrides are given: two checkouts on one machine run side by side on
# different ports; `start` refuses, naming the other checkout, when its ports are taken.
# Everything it writes lives under <repo>/.local/ (state, logs, registry storage and keys readable by
# the owner only), except the CA copy in /usr/local/share/ca-certificates/dayu-local-ca-<checkout>.crt
# (removed by `stop`), the /etc/hosts line and the binfmt_misc registration.
# Needs root (system trust store, binfmt_misc, rootful BuildKit). The registry password is never printed.
# shellcheck disable=SC2016  # single-quoted snippets for bash -c and eval are meant to expand later
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Everything this script creates is the owner's only (files 0600, directories 0700), unless chmod-ed.
umask 077
TOOLS_BIN="${DAYU_TOOLS_DIR:-$ROOT/.tools}/bin"
LOCAL="$ROOT/.local"
PKI="$LOCAL/pki"
REG_DIR="$LOCAL/registry"
BK_DIR="$LOCAL/buildkit"
DOCKER_DIR="$LOCAL/docker"
LOGS="$LOCAL/logs"
RUN="$LOCAL/run"
CREDS="$LOCAL/credentials.env"

PORTS_FILE="$RUN/ports.env"
# Ports: the environment's overrides, else what the last `start` of this checkout used, else defaults.
declare -A SAVED_PORT=()
if [[ -f "$PORTS_FILE" ]]; then
  while IFS='=' read -r key value; do
    [[ "$key" =~ ^DAYU_[A-Z0-9_]+_PORT$ && "$value" =~ ^[0-9]+$ ]] && SAVED_PORT[$key]="$value"
  done <"$PORTS_FILE"
fi
REG_PORT="${DAYU_REGISTRY_PORT:-${SAVED_PORT[DAYU_REGISTRY_PORT]:-5443}}"
declare -A BK_PORT=(
  [amd64]="${DAYU_BUILDKIT_AMD64_PORT:-${SAVED_PORT[DAYU_BUILDKIT_AMD64_PORT]:-9101}}"
  [arm64]="${DAYU_BUILDKIT_ARM64_PORT:-${SAVED_PORT[DAYU_BUILDKIT_ARM64_PORT]:-9102}}"
)
# The prod registry is on when its port is given or remembered (see the header); `start` flags change it.
PROD_REG_PORT="${DAYU_PROD_REGISTRY_PORT:-${SAVED_PORT[DAYU_PROD_REGISTRY_PORT]:-}}"
PROD_REG_ENABLED=0
[[ -n "$PROD_REG_PORT" ]] && PROD_REG_ENABLED=1
PROD_REG_PORT="${PROD_REG_PORT:-5444}"
# The registry is reached by a name, not by 127.0.0.1: buildx's client-side resolver (used by
# `imagetools` and so by docker-build's Index) talks plain HTTP to any loopback IP literal and to
# "localhost". The name resolves to 127.0.0.1 through /etc/hosts; the registry listens on loopback only.
REG_HOST="${DAYU_REGISTRY_HOST:-registry.dayu.test}"
REG_ADDR="$REG_HOST:$REG_PORT"
REG_LISTEN="127.0.0.1:$REG_PORT"
REG_USER_NAME="dayu"
# The prod registry: same host name (the CA may certify no other), its own port, files and user.
PROD_REG_DIR="$LOCAL/prod-registry"
PROD_REG_ADDR="$REG_HOST:$PROD_REG_PORT"
PROD_REG_LISTEN="127.0.0.1:$PROD_REG_PORT"
PROD_REG_CONFIG="$PROD_REG_DIR/config.yml"
PROD_HTPASSWD="$PROD_REG_DIR/htpasswd"
PROD_CREDS="$LOCAL/prod-credentials.env"
PROD_REG_USER_NAME="dayu-prod"
TIMEOUT="${DAYU_START_TIMEOUT:-90}"

CA_CRT="$PKI/ca.crt"
CA_KEY="$PKI/ca.key"
# One file per checkout in the system store (named after a hash of the checkout's path): a second
# checkout's CA never replaces this one's, and `stop` removes only its own.
CHECKOUT_ID="$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)"
SYSTEM_CA_DIR="/usr/local/share/ca-certificates"
SYSTEM_CA="$SYSTEM_CA_DIR/dayu-local-ca-$CHECKOUT_ID.crt"
# Where every checkout put its CA before it was per checkout; migrated away by `start`.
LEGACY_SYSTEM_CA="$SYSTEM_CA_DIR/dayu-local-ca.crt"
# The only names the CA may certify: a leaked CA key cannot be used to impersonate any other host.
CA_NAMES="DNS:$REG_HOST,DNS:localhost,IP:127.0.0.1/255.255.255.255"
REG_CONFIG="$REG_DIR/config.yml"
HTPASSWD="$REG_DIR/htpasswd"
REGISTRY_BIN="$TOOLS_BIN/registry"
# The version scripts/toolchain.sh builds (its stamp file records what was built).
REGISTRY_WANTED="$(sed -n 's/^DISTRIBUTION_VERSION="\(.*\)"$/\1/p' "$ROOT/scripts/toolchain.sh")"
BUILDKITD_BIN="$TOOLS_BIN/buildkitd"
BUILDX_BIN="$TOOLS_BIN/buildx"
# The daemons get a clean environment (no REGISTRY_* or OTEL_* variables of the caller leak into them:
# distribution reads REGISTRY_* variables as configuration overrides).
SAFE_PATH="$TOOLS_BIN:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

SERVICES=(registry buildkitd-amd64 buildkitd-arm64)
# set_services: the list above, plus prod-registry while it is on (start's flags may change that).
set_services() {
  SERVICES=(registry buildkitd-amd64 buildkitd-arm64)
  ((PROD_REG_ENABLED)) && SERVICES+=(prod-registry)
  return 0
}
set_services
declare -A STARTED=()   # services launched by this run of `start` (the others were left alone)

log() { printf '[local-services] %s\n' "$*"; }
warn() { printf '[local-services] WARNING: %s\n' "$*" >&2; }
die() { printf '[local-services] ERROR: %s\n' "$*" >&2; exit 1; }

# --- small helpers -----------------------------------------------------------------------------------

# port_open PORT: something accepts TCP connections on 127.0.0.1:PORT.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_for SECONDS CMD...: poll CMD every half second until it succeeds or the time is up.
wait_for() {
  local deadline=$((SECONDS + $1)); shift
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.5
  done
}

# write_if_changed FILE MODE: replace FILE with stdin when the content differs; true when it changed.
write_if_changed() {
  local file="$1" mode="$2" tmp
  tmp="$(mktemp "$file.XXXXXX")"
  cat >"$tmp"
  chmod "$mode" "$tmp"
  if [[ -f "$file" ]] && cmp -s "$tmp" "$file"; then rm -f "$tmp"; chmod "$mode" "$file"; return 1; fi
  mv -f "$tmp" "$file"
  return 0
}

# --- service identity ----------------------------------------------------------------------------------

svc_pidfile() { echo "$RUN/$1.pid"; }
svc_log() { echo "$LOGS/$1.log"; }
svc_arch() { echo "${1#buildkitd-}"; }
svc_port() {
  case "$1" in
    registry) echo "$REG_PORT" ;;
    prod-registry) echo "$PROD_REG_PORT" ;;
    *) echo "${BK_PORT[$(svc_arch "$1")]}" ;;
  esac
}
svc_config() {
  case "$1" in
    registry) echo "$REG_CONFIG" ;;
    prod-registry) echo "$PROD_REG_CONFIG" ;;
    *) echo "$BK_DIR/$(svc_arch "$1")/buildkitd.toml" ;;
  esac
}
svc_address() {
  case "$1" in
    registry) echo "https://$REG_ADDR" ;;
    prod-registry) echo "https://$PROD_REG_ADDR (stands for production)" ;;
    *) echo "tcp://127.0.0.1:$(svc_port "$1") (builder dayu-$(svc_arch "$1"))" ;;
  esac
}

# pid_is_svc PID SERVICE: PID is alive (not a zombie) and is this repo's instance of SERVICE, recognised
# by its config file path on the command line.
pid_is_svc() {
  local pid="$1" svc="$2" cmd state
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [[ -r "/proc/$pid/cmdline" ]] || return 1
  state="$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || true)"
  [[ -n "$state" && "$state" != Z && "$state" != X ]] || return 1
  cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
  [[ "$cmd" == *"$(svc_config "$svc")"* ]]
}

# svc_pid SERVICE: print the pid of the running instance, from its pid file or, when the pid file is
# missing or stale, from whoever listens on its port if that is this repo's instance (the pid file is
# then rewritten). A stale pid file is removed. Prints nothing when it is not running.
svc_pid() {
  local svc="$1" pidfile pid=""
  pidfile="$(svc_pidfile "$svc")"
  if [[ -f "$pidfile" ]]; then
    pid="$(cat "$pidfile" 2>/dev/null || true)"
    if pid_is_svc "$pid" "$svc"; then echo "$pid"; return; fi
    rm -f "$pidfile"
  fi
  pid="$(listener_pid "$(svc_port "$svc")")"
  if [[ -n "$pid" ]] && pid_is_svc "$pid" "$svc"; then
    echo "$pid" >"$pidfile"
    echo "$pid"
  fi
}

# listener_pid PORT: pid of the process listening on TCP PORT (any address), if any.
listener_pid() {
  ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n1 | cut -d= -f2 || true
}

# launch SERVICE CMD...: start CMD detached (own session, survives the calling shell), output appended
# to the service's log, pid in its pid file.
launch() {
  local svc="$1"; shift
  local pidfile logfile
  pidfile="$(svc_pidfile "$svc")"; logfile="$(svc_log "$svc")"
  rm -f "$pidfile"
  printf '\n===== %s: %s starting =====\n' "$(date '+%F %T')" "$svc" >>"$logfile"
  # bash writes its own pid (setsid may have forked) and execs into the daemon: the pid stays valid.
  # fd 9 (the lock) is closed so the daemon does not hold it. The daemons inherit umask 077: the
  # registry's storage and every log stay readable by the owner only.
  setsid bash -c 'echo $$ >"$0"; exec nohup "$@"' "$pidfile" \
    env -i PATH="$SAFE_PATH" HOME="${HOME:-/root}" LANG=C.UTF-8 "$@" \
    </dev/null >>"$logfile" 2>&1 9>&- &
  wait_for 5 test -s "$pidfile" || fail "$svc" "did not start (no pid file)"
  STARTED[$svc]=1
}

# fail SERVICE MESSAGE: print the tail of SERVICE's log and exit non-zero naming it.
fail() {
  local svc="$1" msg="$2" logfile
  logfile="$(svc_log "$svc")"
  printf '[local-services] ERROR: %s: %s\n' "$svc" "$msg" >&2
  if [[ -f "$logfile" ]]; then
    # the end of its latest run only (each launch writes a "===== ... starting =====" marker)
    printf '[local-services] last lines of %s:\n' "$logfile" >&2
    awk '/^===== .* starting =====$/{n=0} {buf[n++]=$0} END{s=(n>40)?n-40:0; for(i=s;i<n;i++) print buf[i]}' "$logfile" \
      | sed 's/^/    /' >&2
  fi
  exit 1
}

# wait_listening SERVICE: until its port accepts connections; fails early when the process exits.
wait_listening() {
  local svc="$1" port pid deadline=$((SECONDS + TIMEOUT))
  port="$(svc_port "$svc")"; pid="$(cat "$(svc_pidfile "$svc")" 2>/dev/null || true)"
  until port_open "$port"; do
    pid_is_svc "$pid" "$svc" || fail "$svc" "exited during startup"
    ((SECONDS < deadline)) || fail "$svc" "not listening on 127.0.0.1:$port after ${TIMEOUT}s"
    sleep 0.3
  done
}

# stop_svc SERVICE: SIGTERM, up to 20 s, then SIGKILL to its whole process group.
stop_svc() {
  local svc="$1" pid
  pid="$(svc_pid "$svc")"
  if [[ -z "$pid" ]]; then
    log "$svc: not running"
    rm -f "$(svc_pidfile "$svc")"
    return
  fi
  log "$svc: stopping (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  if ! wait_for 20 bash -c '! kill -0 "$1" 2>/dev/null || [[ "$(awk "{print \$3}" /proc/$1/stat 2>/dev/null)" == Z ]]' _ "$pid"; then
    warn "$svc: still alive after 20 s, sending SIGKILL"
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    wait_for 5 bash -c '! kill -0 "$1" 2>/dev/null' _ "$pid" || warn "$svc: pid $pid did not exit"
  fi
  rm -f "$(svc_pidfile "$svc")"
  log "$svc: stopped"
}

# refuse_taken_port SERVICE PORT: stop with a clear message when another process listens on PORT. The
# other process is never stopped or untrusted: when it is another checkout's service, the message names
# that checkout and how to run this one beside it.
refuse_taken_port() {
  local svc="$1" port="$2" other cmd owner
  other="$(listener_pid "$port")"
  [[ -n "$other" ]] || return 0
  cmd="$(tr '\0' ' ' <"/proc/$other/cmdline" 2>/dev/null || true)"
  owner="$(grep -oE '/[^ ]*/\.local/((prod-)?registry/config\.yml|buildkit/[a-z0-9]+/buildkitd\.toml)' <<<"$cmd" | head -n1 | sed 's#/\.local/.*##')"
  if [[ -n "$owner" && "$owner" != "$ROOT" ]]; then
    die "$svc: port $port is used by the local services of another checkout, $owner (pid $other).
  Both can run at once on different ports; start this one with, for example:
    DAYU_REGISTRY_PORT=$((REG_PORT + 100)) DAYU_BUILDKIT_AMD64_PORT=$((BK_PORT[amd64] + 100)) DAYU_BUILDKIT_ARM64_PORT=$((BK_PORT[arm64] + 100)) $0 start
  (the ports are remembered in $PORTS_FILE), or stop the other one: $owner/scripts/local-services.sh stop"
  fi
  die "$svc: port $port is taken by pid $other (${cmd:0:120}); free it or choose another port (DAYU_REGISTRY_PORT, DAYU_BUILDKIT_AMD64_PORT, DAYU_BUILDKIT_ARM64_PORT, DAYU_PROD_REGISTRY_PORT)"
}

# save_ports: the ports of this start, for later commands and scripts/env.sh.
save_ports() {
  {
    printf 'DAYU_REGISTRY_PORT=%s\nDAYU_BUILDKIT_AMD64_PORT=%s\nDAYU_BUILDKIT_ARM64_PORT=%s\n' \
      "$REG_PORT" "${BK_PORT[amd64]}" "${BK_PORT[arm64]}"
    # Present only while the prod registry is on: its presence is what turns it on for later commands.
    if ((PROD_REG_ENABLED)); then printf 'DAYU_PROD_REGISTRY_PORT=%s\n' "$PROD_REG_PORT"; fi
  } | write_if_changed "$PORTS_FILE" 0600 || true
}

# /etc/hosts maps the registry's name to loopback (see REG_HOST).
ensure_hosts() {
  if ! grep -Eq "^127\.0\.0\.1[[:space:]].*\b$REG_HOST\b" /etc/hosts; then
    log "mapping $REG_HOST to 127.0.0.1 in /etc/hosts"
    printf '127.0.0.1 %s\n' "$REG_HOST" >>/etc/hosts
  fi
}

# --- PKI -------------------------------------------------------------------------------------------

# gen_leaf NAME CN EXTENDED_KEY_USAGE [SUBJECT_ALT_NAME]: key + certificate signed by the local CA.
gen_leaf() {
  local name="$1" cn="$2" eku="$3" san="${4:-}" ext
  ext="basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=$eku
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid"
  [[ -n "$san" ]] && ext+=$'\n'"subjectAltName=$san"
  (umask 077 && openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -keyout "$PKI/$name.key" -out "$PKI/$name.csr" -subj "/O=dayu local/CN=$cn" 2>/dev/null)
  openssl x509 -req -in "$PKI/$name.csr" -CA "$CA_CRT" -CAkey "$CA_KEY" -set_serial "0x$(openssl rand -hex 16)" \
    -days 825 -sha256 -out "$PKI/$name.crt" -extfile <(printf '%s\n' "$ext") 2>/dev/null
  rm -f "$PKI/$name.csr"
  chmod 0600 "$PKI/$name.key" "$PKI/$name.crt"
}

# leaf_ok NAME: certificate and key exist, chain to the current CA and are valid for 30 more days.
leaf_ok() {
  [[ -s "$PKI/$1.crt" && -s "$PKI/$1.key" ]] \
    && openssl verify -CAfile "$CA_CRT" "$PKI/$1.crt" >/dev/null 2>&1 \
    && openssl x509 -in "$PKI/$1.crt" -noout -checkend 2592000 >/dev/null 2>&1
}

# ensure_pki: CA, registry server cert, buildkitd server cert, buildx client cert; CA in the system store.
# Sets PKI_CHANGED=1 when a server certificate was (re)issued (running daemons must be restarted).
PKI_CHANGED=0
PROD_PKI_CHANGED=0
ensure_pki() {
  mkdir -p "$PKI"; chmod 0700 "$PKI"
  # A CA from an older run (no name constraints, or constraints for another registry name) is
  # replaced, and with it every certificate it signed.
  if ! [[ -s "$CA_CRT" && -s "$CA_KEY" ]] || ! openssl x509 -in "$CA_CRT" -noout -checkend 2592000 >/dev/null 2>&1 \
    || [[ "$(ca_constraints "$CA_CRT")" != "$(expected_constraints)" ]]; then
    [[ -s "$CA_CRT" ]] && untrust_legacy_ca
    log "generating the local CA of this checkout ($CA_CRT, limited to $CA_NAMES)"
    openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
      -keyout "$CA_KEY" -out "$CA_CRT" -days 3650 -sha256 \
      -subj "/O=dayu local/OU=checkout $CHECKOUT_ID/CN=dayu local CA $CHECKOUT_ID" \
      -addext "basicConstraints=critical,CA:TRUE,pathlen:0" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -addext "nameConstraints=critical,permitted;${CA_NAMES//,/,permitted;}" 2>/dev/null \
      || die "openssl could not generate the local CA"
    rm -f "$PKI"/registry.crt "$PKI"/prod-registry.crt "$PKI"/buildkitd.crt "$PKI"/buildkit-client.crt
  fi
  untrust_legacy_ca
  if ! leaf_ok registry || ! openssl x509 -in "$PKI/registry.crt" -noout -ext subjectAltName 2>/dev/null | grep -q "DNS:$REG_HOST"; then
    log "issuing the registry server certificate ($REG_HOST, localhost, 127.0.0.1)"
    gen_leaf registry "$REG_HOST" serverAuth "DNS:$REG_HOST,DNS:localhost,IP:127.0.0.1"
    PKI_CHANGED=1
  fi
  # The prod registry's own certificate (own key), issued only while it is on.
  if ((PROD_REG_ENABLED)) && { ! leaf_ok prod-registry || ! openssl x509 -in "$PKI/prod-registry.crt" -noout -ext subjectAltName 2>/dev/null | grep -q "DNS:$REG_HOST"; }; then
    log "issuing the prod registry's server certificate ($REG_HOST, localhost, 127.0.0.1)"
    gen_leaf prod-registry "$REG_HOST" serverAuth "DNS:$REG_HOST,DNS:localhost,IP:127.0.0.1"
    PROD_PKI_CHANGED=1
  fi
  if ! leaf_ok buildkitd; then
    log "issuing the buildkitd server certificate (localhost, 127.0.0.1)"
    gen_leaf buildkitd buildkitd serverAuth "DNS:localhost,IP:127.0.0.1"
    PKI_CHANGED=1
  fi
  if ! leaf_ok buildkit-client; then
    log "issuing the buildx client certificate"
    gen_leaf buildkit-client buildx clientAuth
  fi
  secure_tree "$PKI"
  if ! cmp -s "$CA_CRT" "$SYSTEM_CA" 2>/dev/null; then
    log "trusting this checkout's CA system-wide ($SYSTEM_CA, update-ca-certificates)"
    mkdir -p "$SYSTEM_CA_DIR"
    install -m 0644 "$CA_CRT" "$SYSTEM_CA"
    update_trust || die "update-ca-certificates failed"
  fi
}

# ca_constraints FILE: the CA's name constraints as openssl prints them, without white space.
ca_constraints() { openssl x509 -in "$1" -noout -ext nameConstraints 2>/dev/null | tr -d ' \n'; }
# expected_constraints: what ca_constraints prints for a CA made from CA_NAMES.
expected_constraints() { printf 'X509v3NameConstraints:criticalPermitted:%s' "${CA_NAMES//,/}"; }

# update_trust: update-ca-certificates, one checkout at a time (they share the generated bundle).
update_trust() {
  flock -w 120 /run/lock/dayu-local-ca.lock update-ca-certificates >/dev/null 2>&1
}

# untrust_legacy_ca: the fixed-name file older runs wrote is removed when it holds this checkout's CA
# (another checkout's is left for that checkout to migrate when it next starts).
untrust_legacy_ca() {
  if [[ -f "$LEGACY_SYSTEM_CA" && -s "$CA_CRT" ]] && cmp -s "$CA_CRT" "$LEGACY_SYSTEM_CA"; then
    log "migrating: removing this checkout's CA from its old shared place ($LEGACY_SYSTEM_CA)"
    rm -f "$LEGACY_SYSTEM_CA"
    update_trust || warn "update-ca-certificates failed"
  fi
}

# untrust_ca: `stop` removes this checkout's CA (only this one) from the system store.
untrust_ca() {
  untrust_legacy_ca
  if [[ -f "$SYSTEM_CA" ]]; then
    log "removing this checkout's CA from the system trust store ($SYSTEM_CA)"
    rm -f "$SYSTEM_CA"
    update_trust || warn "update-ca-certificates failed"
  fi
  # update-ca-certificates rebuilds the bundle but (without --fresh, which would touch every CA) leaves
  # the removed file's links in /etc/ssl/certs dangling: remove this checkout's.
  find /etc/ssl/certs -maxdepth 1 -type l \( -lname "$SYSTEM_CA" -o -lname "dayu-local-ca-$CHECKOUT_ID.pem" \) \
    ! -exec test -e {} \; -delete 2>/dev/null || true
}

# secure_tree DIR...: directories 0700, files 0600 (state, logs, registry storage, keys).
secure_tree() {
  local d
  for d in "$@"; do
    [[ -e "$d" ]] || continue
    find "$d" -type d ! -perm 0700 -exec chmod 0700 {} + 2>/dev/null || true
    find "$d" -type f -perm /0177 -exec chmod 0600 {} + 2>/dev/null || true
  done
}

# --- credentials -------------------------------------------------------------------------------------

REG_USER="" REG_PASS=""
load_creds() {
  [[ -f "$CREDS" ]] || return 1
  REG_USER="$(sed -n 's/^REGISTRY_USERNAME=//p' "$CREDS" | tail -n1)"
  REG_PASS="$(sed -n 's/^REGISTRY_PASSWORD=//p' "$CREDS" | tail -n1)"
  [[ -n "$REG_USER" && -n "$REG_PASS" ]]
}

# ensure_creds: credentials generated once; htpasswd (bcrypt) and .local/docker/config.json follow them.
# Sets CREDS_CHANGED=1 when the htpasswd file was rewritten.
CREDS_CHANGED=0
ensure_creds() {
  if ! load_creds; then
    log "generating registry credentials (user $REG_USER_NAME) in $CREDS"
    (umask 077 && printf 'REGISTRY_USERNAME=%s\nREGISTRY_PASSWORD=%s\n' "$REG_USER_NAME" "$(openssl rand -hex 24)" >"$CREDS")
    load_creds || die "could not write $CREDS"
  fi
  chmod 0600 "$CREDS"
  mkdir -p "$REG_DIR"
  if ! [[ -s "$HTPASSWD" ]] || ! printf '%s' "$REG_PASS" | htpasswd -vi "$HTPASSWD" "$REG_USER" >/dev/null 2>&1; then
    log "writing the bcrypt htpasswd file ($HTPASSWD)"
    # -i: the password comes on stdin, never on a command line.
    local line
    line="$(printf '%s' "$REG_PASS" | htpasswd -Bin "$REG_USER" 2>/dev/null || true)"
    [[ "$line" == "$REG_USER:\$2"[aby]"\$"* ]] || die "registry: htpasswd -B did not produce a bcrypt entry for $REG_USER"
    printf '%s\n' "$line" | write_if_changed "$HTPASSWD" 0600 || true
    CREDS_CHANGED=1
  fi
  # Registry auth for buildx / docker-build under DOCKER_CONFIG=.local/docker (0600, merged with what is there).
  mkdir -p "$DOCKER_DIR"; chmod 0700 "$DOCKER_DIR"
  local cfg="$DOCKER_DIR/config.json" current='{}'
  [[ -s "$cfg" ]] && current="$(cat "$cfg")"
  DAYU_AUTH="$(printf '%s:%s' "$REG_USER" "$REG_PASS" | base64 -w0)" DAYU_REG="$REG_ADDR" \
    jq '.auths = ((.auths // {}) + {(env.DAYU_REG): {auth: env.DAYU_AUTH}})' <<<"$current" \
    | write_if_changed "$cfg" 0600 || true
}

# --- binfmt (QEMU arm64 user emulation) ------------------------------------------------------------

ensure_binfmt() {
  local bm=/proc/sys/fs/binfmt_misc entry
  if [[ ! -e "$bm/status" ]]; then
    log "mounting binfmt_misc"
    mount -t binfmt_misc binfmt_misc "$bm" || die "binfmt: cannot mount binfmt_misc on $bm"
  fi
  entry="$bm/qemu-aarch64"
  if ! [[ -f "$entry" ]] || [[ "$(head -n1 "$entry")" != enabled ]]; then
    command -v update-binfmts >/dev/null || die "binfmt: update-binfmts missing (install binfmt-support, qemu-user-static: scripts/toolchain.sh)"
    log "enabling the qemu-aarch64 binfmt handler"
    update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
    # binfmt-support refuses when a handler of that name was registered by someone else: re-register.
    if ! [[ -f "$entry" && "$(head -n1 "$entry")" == enabled ]]; then
      [[ -f "$entry" ]] && echo -1 >"$entry"
      update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
    fi
  fi
  [[ -f "$entry" && "$(head -n1 "$entry")" == enabled ]] || die "binfmt: qemu-aarch64 handler is not enabled"
  # F (fix binary): the interpreter is opened now, so it also works inside build containers.
  if ! grep -q '^flags: .*F' "$entry"; then
    warn "binfmt: qemu-aarch64 registered without the F flag; re-registering from qemu-user-static"
    echo -1 >"$entry"
    update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
    grep -q '^flags: .*F' "$entry" 2>/dev/null || die "binfmt: qemu-aarch64 handler lacks the F flag: $(grep '^flags' "$entry" 2>/dev/null)"
  fi
}

# --- registry ----------------------------------------------------------------------------------------

# write_registry_config: true when the config changed.
write_registry_config() {
  write_config_of registry "$REG_DIR" "$REG_CONFIG" "$REG_LISTEN" registry "$HTPASSWD" dayu-local-registry
}

# write_config_of SERVICE DIR CONFIG LISTEN CERT HTPASSWD REALM: a registry's config (storage in DIR/data,
# TLS with $PKI/CERT.{crt,key}); true when it changed. The two registries differ only in these.
write_config_of() {
  local svc="$1" dir="$2" config="$3" listen="$4" cert="$5" htpasswd="$6" realm="$7"
  mkdir -p "$dir/data"
  local secret_file="$dir/http.secret"
  [[ -s "$secret_file" ]] || openssl rand -hex 32 >"$secret_file"
  # Distribution v3 reads the 2.8 configuration format (version 0.1) and storage layout unchanged:
  # storage written by 2.8 is served as it is.
  write_if_changed "$config" 0600 <<EOF
# Generated by scripts/local-services.sh for distribution $REGISTRY_WANTED; edits are overwritten.
version: 0.1
log:
  level: info
  formatter: text
  fields:
    service: $svc
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
  # No blob descriptor cache (storage.cache): it only saves stat calls on a local disk, and with 2.8's
  # in-memory cache concurrent cross-repository mounts failed manifest PUTs ("blob unknown").
http:
  addr: $listen
  secret: $(cat "$secret_file")
  # In-flight pushes finish before a stop (SIGTERM); stop_svc waits up to 20 s.
  draintimeout: 15s
  tls:
    certificate: $PKI/$cert.crt
    key: $PKI/$cert.key
    minimumtls: tls1.2
  headers:
    X-Content-Type-Options: [nosniff]
auth:
  htpasswd:
    realm: $realm
    path: $htpasswd
health:
  storagedriver:
    enabled: true
    interval: 10s
    threshold: 3
EOF
}

# local_check ARGS...: scripts/local-check.ts, the program's own registry client and pre-flight checks
# (lib/registry.ts, lib/preflight.ts). Node runs with the system store (--use-openssl-ca) and without
# NODE_EXTRA_CA_CERTS, so DAYU_CHECK_SYSTEM_TRUST=1 tests what Go programs on the host will see.
# CHECK_USER / CHECK_PASS override the credentials it passes (the prod registry's).
local_check() {
  env -u NODE_EXTRA_CA_CERTS DOCKER_CONFIG="$DOCKER_DIR" BUILDX_CONFIG="$DOCKER_DIR/buildx" DAYU_BUILDX="$BUILDX_BIN" \
    DAYU_REGISTRY_CA="$CA_CRT" REGISTRY_USERNAME="${CHECK_USER:-$REG_USER}" REGISTRY_PASSWORD="${CHECK_PASS:-$REG_PASS}" \
    node --use-openssl-ca -r "$ROOT/node_modules/ts-node/register/transpile-only" "$ROOT/scripts/local-check.ts" "$@"
}

# registry_healthy [SECONDS]: anonymous requests refused (401), the credentials accepted, the system
# store trusts it; retried for SECONDS (default: one try). Prints the reason when it is not.
registry_healthy() { DAYU_CHECK_SYSTEM_TRUST=1 local_check registry "$REG_ADDR" --wait "${1:-0}" 2>&1; }

start_registry() {
  local svc=registry pid changed=0
  write_registry_config && changed=1
  ((PKI_CHANGED || CREDS_CHANGED)) && changed=1
  pid="$(svc_pid "$svc")"
  # A registry from an older run (Debian's 2.8 binary) is replaced by the one the toolchain built.
  # (Compared with the binary's real path: .tools may be a symbolic link, e.g. in a git worktree.)
  if [[ -n "$pid" && "$(readlink "/proc/$pid/exe" 2>/dev/null)" != "$(readlink -f "$REGISTRY_BIN")" ]]; then
    log "$svc: running $(readlink "/proc/$pid/exe" 2>/dev/null), not $REGISTRY_BIN: restarting"
    changed=1
  fi
  if [[ -n "$pid" ]]; then
    if ((changed)); then
      log "$svc: configuration, certificate, credentials or binary changed: restarting"
      stop_svc "$svc"
    elif registry_healthy 10 >/dev/null; then
      log "$svc: already running (pid $pid), healthy"
      return
    else
      log "$svc: running (pid $pid) but unhealthy: restarting"
      stop_svc "$svc"
    fi
  fi
  [[ -x "$REGISTRY_BIN" && "$(cat "$TOOLS_BIN/.registry.version" 2>/dev/null)" == "$REGISTRY_WANTED" ]] \
    || die "$svc: $REGISTRY_BIN (distribution $REGISTRY_WANTED) missing: run scripts/toolchain.sh"
  # Without its htpasswd file the registry would silently create one with a random user: refuse.
  [[ -s "$HTPASSWD" ]] || die "$svc: htpasswd file $HTPASSWD does not exist; refusing to start"
  refuse_taken_port "$svc" "$REG_PORT"
  log "$svc: starting on https://$REG_ADDR (data in $REG_DIR/data)"
  launch "$svc" "$REGISTRY_BIN" serve "$REG_CONFIG"
}

wait_registry() {
  local svc=registry t0=$SECONDS reason
  wait_listening "$svc"
  reason="$(registry_healthy "$TIMEOUT")" || fail "$svc" "$reason"
  log "$svc: ready in $((SECONDS - t0))s (anonymous 401, credentials 200, trusted by the system store)"
}

# --- prod registry (optional; see the header) ----------------------------------------------------------

PROD_USER="" PROD_PASS=""
load_prod_creds() {
  [[ -f "$PROD_CREDS" ]] || return 1
  PROD_USER="$(sed -n 's/^PROD_REGISTRY_USERNAME=//p' "$PROD_CREDS" | tail -n1)"
  PROD_PASS="$(sed -n 's/^PROD_REGISTRY_PASSWORD=//p' "$PROD_CREDS" | tail -n1)"
  [[ -n "$PROD_USER" && -n "$PROD_PASS" ]]
}

# ensure_prod_creds: its own user and password, generated once, and its bcrypt htpasswd file. Sets
# PROD_CREDS_CHANGED=1 when the htpasswd file was rewritten. Nothing goes into .local/docker: the
# promoting stack hands these credentials to the docker-build provider itself.
PROD_CREDS_CHANGED=0
ensure_prod_creds() {
  if ! load_prod_creds; then
    log "generating the prod registry's credentials (user $PROD_REG_USER_NAME) in $PROD_CREDS"
    (umask 077 && printf 'PROD_REGISTRY_USERNAME=%s\nPROD_REGISTRY_PASSWORD=%s\n' "$PROD_REG_USER_NAME" "$(openssl rand -hex 24)" >"$PROD_CREDS")
    load_prod_creds || die "could not write $PROD_CREDS"
  fi
  chmod 0600 "$PROD_CREDS"
  [[ "$PROD_USER" != "$REG_USER" && "$PROD_PASS" != "$REG_PASS" ]] \
    || die "prod-registry: its credentials ($PROD_CREDS) must differ from the first registry's"
  mkdir -p "$PROD_REG_DIR"
  if ! [[ -s "$PROD_HTPASSWD" ]] || ! printf '%s' "$PROD_PASS" | htpasswd -vi "$PROD_HTPASSWD" "$PROD_USER" >/dev/null 2>&1; then
    log "writing the prod registry's bcrypt htpasswd file ($PROD_HTPASSWD)"
    local line
    line="$(printf '%s' "$PROD_PASS" | htpasswd -Bin "$PROD_USER" 2>/dev/null || true)"
    [[ "$line" == "$PROD_USER:\$2"[aby]"\$"* ]] || die "prod-registry: htpasswd -B did not produce a bcrypt entry for $PROD_USER"
    printf '%s\n' "$line" | write_if_changed "$PROD_HTPASSWD" 0600 || true
    PROD_CREDS_CHANGED=1
  fi
}

prod_registry_healthy() {
  CHECK_USER="$PROD_USER" CHECK_PASS="$PROD_PASS" DAYU_CHECK_SYSTEM_TRUST=1 \
    local_check registry "$PROD_REG_ADDR" --wait "${1:-0}" 2>&1
}

start_prod_registry() {
  local svc=prod-registry pid changed=0
  write_config_of prod-registry "$PROD_REG_DIR" "$PROD_REG_CONFIG" "$PROD_REG_LISTEN" prod-registry \
    "$PROD_HTPASSWD" dayu-local-prod-registry && changed=1
  ((PROD_PKI_CHANGED || PROD_CREDS_CHANGED)) && changed=1
  pid="$(svc_pid "$svc")"
  if [[ -n "$pid" ]]; then
    if ((changed)); then
      log "$svc: configuration, certificate or credentials changed: restarting"
      stop_svc "$svc"
    elif prod_registry_healthy 10 >/dev/null; then
      log "$svc: already running (pid $pid), healthy"
      return
    else
      log "$svc: running (pid $pid) but unhealthy: restarting"
      stop_svc "$svc"
    fi
  fi
  [[ -x "$REGISTRY_BIN" && "$(cat "$TOOLS_BIN/.registry.version" 2>/dev/null)" == "$REGISTRY_WANTED" ]] \
    || die "$svc: $REGISTRY_BIN (distribution $REGISTRY_WANTED) missing: run scripts/toolchain.sh"
  [[ -s "$PROD_HTPASSWD" ]] || die "$svc: htpasswd file $PROD_HTPASSWD does not exist; refusing to start"
  refuse_taken_port "$svc" "$PROD_REG_PORT"
  log "$svc: starting on https://$PROD_REG_ADDR (data in $PROD_REG_DIR/data)"
  launch "$svc" "$REGISTRY_BIN" serve "$PROD_REG_CONFIG"
}

wait_prod_registry() {
  local svc=prod-registry t0=$SECONDS reason
  wait_listening "$svc"
  reason="$(prod_registry_healthy "$TIMEOUT")" || fail "$svc" "$reason"
  log "$svc: ready in $((SECONDS - t0))s (anonymous 401, its own credentials 200, trusted by the system store)"
}

# --- buildkitd ---------------------------------------------------------------------------------------

# otel_socket ARCH: buildkitd always serves an OTEL trace socket, by default /run/buildkit/otel-grpc.sock,
# which two daemons would fight over; each gets its own (a short path when the repo path is too long
# for a unix socket).
otel_socket() {
  local sock="$BK_DIR/$1/otel-grpc.sock"
  if ((${#sock} > 100)); then sock="/tmp/dayu-buildkit-$(printf '%s' "$ROOT" | sha1sum | cut -c1-12)-$1.sock"; fi
  echo "$sock"
}

# write_buildkitd_config ARCH: true when the config changed.
write_buildkitd_config() {
  local arch="$1" dir="$BK_DIR/$1"
  mkdir -p "$dir/root"
  write_if_changed "$dir/buildkitd.toml" 0644 <<EOF
# Generated by scripts/local-services.sh; edits are overwritten.
root = "$dir/root"

[log]
  format = "text"
  level = "info"

[grpc]
  # TCP only, no unix socket (the default /run/buildkit/buildkitd.sock would clash between the two daemons).
  address = ["tcp://127.0.0.1:${BK_PORT[$arch]}"]
  debugAddress = ""
  [grpc.tls]
    cert = "$PKI/buildkitd.crt"
    key = "$PKI/buildkitd.key"
    ca = "$CA_CRT"

[otel]
  socketPath = "$(otel_socket "$arch")"

[cdi]
  disabled = true

[worker.oci]
  enabled = true
  # Exactly one platform: this daemon stands for one linux/$arch host.
  platforms = ["linux/$arch"]
  snapshotter = "auto"
  networkMode = "host"
  gc = true

[worker.containerd]
  enabled = false

[registry."$REG_ADDR"]
  # BuildKit talks plain HTTP to localhost/127.0.0.1 registries unless told otherwise.
  http = false
  ca = ["$CA_CRT"]
EOF
}

# buildx_env: buildx runs standalone against the repo's own docker config directory.
bx() { DOCKER_CONFIG="$DOCKER_DIR" BUILDX_CONFIG="$DOCKER_DIR/buildx" "$BUILDX_BIN" "$@"; }

# ensure_builder ARCH: the buildx remote builder dayu-ARCH, recreated when its settings differ.
ensure_builder() {
  local arch="$1" name="dayu-$1" stamp="$BK_DIR/$1/builder.args" args
  args=(create --name "$name" --driver remote
    --driver-opt "cacert=$CA_CRT,cert=$PKI/buildkit-client.crt,key=$PKI/buildkit-client.key,servername=127.0.0.1"
    --platform "linux/$arch" "tcp://127.0.0.1:${BK_PORT[$arch]}")
  if bx inspect "$name" >/dev/null 2>&1 && [[ "$(cat "$stamp" 2>/dev/null)" == "${args[*]}" ]]; then
    return
  fi
  if bx inspect "$name" >/dev/null 2>&1; then
    log "buildkitd-$arch: removing the outdated buildx builder $name"
    bx rm "$name" >/dev/null 2>&1 || rm -rf "$DOCKER_DIR/buildx/instances/$name"
  fi
  log "buildkitd-$arch: creating the buildx remote builder $name -> tcp://127.0.0.1:${BK_PORT[$arch]}"
  bx "${args[@]}" >/dev/null || fail "buildkitd-$arch" "buildx create $name failed"
  printf '%s\n' "${args[*]}" >"$stamp"
  # Index creation (imagetools) uses the current builder: make it the amd64 one.
  [[ "$arch" != amd64 ]] || bx use "$name" >/dev/null
}

# builder_check ARCH [SECONDS]: the program's pre-flight builder check (lib/preflight.ts: `buildx inspect
# --bootstrap` reaches the node and it serves linux/ARCH), retried for SECONDS, and the daemon's OCI
# worker was set up with exactly linux/ARCH (its default platform, from the log of its current run).
# Prints the reason when it fails.
#
# BuildKit (v0.31) answers ListWorkers with the worker's platforms plus every platform the host can run
# (native amd64 and its micro-architecture levels, arm64 through the qemu-aarch64 binfmt handler),
# whatever --oci-worker-platform says; those extra entries are harmless here, hence the log check.
builder_check() {
  local arch="$1" worker
  local_check builders "dayu-$arch=linux/$arch" --wait "${2:-0}" 2>&1 || return 1
  worker="$(awk '/===== .* starting =====/{w=""} /found worker/{w=$0} END{print w}' "$(svc_log "buildkitd-$arch")" 2>/dev/null \
    | grep -o 'platforms=\[[^]]*\]' || true)"
  [[ -z "$worker" || "$worker" == "platforms=[linux/$arch]" ]] || { echo "daemon worker $worker, expected [linux/$arch]"; return 1; }
}

start_buildkitd() {
  local arch="$1" svc="buildkitd-$1" pid changed=0
  write_buildkitd_config "$arch" && changed=1
  ((PKI_CHANGED)) && changed=1
  ensure_builder "$arch"
  pid="$(svc_pid "$svc")"
  if [[ -n "$pid" ]]; then
    if ((changed)); then
      log "$svc: configuration or certificate changed: restarting"
      stop_svc "$svc"
    elif builder_check "$arch" >/dev/null; then
      log "$svc: already running (pid $pid), healthy"
      return
    else
      log "$svc: running (pid $pid) but unhealthy: restarting"
      stop_svc "$svc"
    fi
  fi
  [[ -x "$BUILDKITD_BIN" ]] || die "$svc: $BUILDKITD_BIN missing (built by scripts/toolchain.sh)"
  command -v runc >/dev/null || PATH="$PATH:/usr/sbin" command -v runc >/dev/null || die "$svc: runc missing (Debian package runc)"
  refuse_taken_port "$svc" "${BK_PORT[$arch]}"
  rm -f "$(otel_socket "$arch")"
  log "$svc: starting on tcp://127.0.0.1:${BK_PORT[$arch]} (linux/$arch, root $BK_DIR/$arch/root)"
  launch "$svc" "$BUILDKITD_BIN" \
    --config "$BK_DIR/$arch/buildkitd.toml" \
    --root "$BK_DIR/$arch/root" \
    --addr "tcp://127.0.0.1:${BK_PORT[$arch]}" \
    --tlscacert "$CA_CRT" --tlscert "$PKI/buildkitd.crt" --tlskey "$PKI/buildkitd.key" \
    --oci-worker=true --containerd-worker=false \
    --oci-worker-platform "linux/$arch"
}

wait_buildkitd() {
  local arch="$1" svc="buildkitd-$1" t0=$SECONDS reason=""
  [[ -n "${STARTED[$svc]:-}" ]] || return 0   # was running and healthy: left alone
  wait_listening "$svc"
  reason="$(builder_check "$arch" 30)" || fail "$svc" "buildx builder dayu-$arch: $reason"
  log "$svc: ready in $((SECONDS - t0))s: builder dayu-$arch running, worker platform linux/$arch"
}

# --- commands ----------------------------------------------------------------------------------------

lock() {
  mkdir -p "$RUN"
  exec 9>"$RUN/.lock"
  flock -w 300 9 || die "another local-services start/stop holds $RUN/.lock"
}

require_root() { [[ "$(id -u)" == 0 ]] || die "must run as root (system trust store, binfmt_misc, rootful BuildKit)"; }

cmd_start() {
  require_root
  local t0=$SECONDS
  mkdir -p "$LOCAL" "$LOGS" "$RUN" "$BK_DIR" "$DOCKER_DIR" "$LOCAL/state"
  lock
  # Older runs left these group- and world-readable: the owner's only from now on (.local itself
  # too, so what other tools write below it later is covered).
  chmod 0700 "$LOCAL"
  secure_tree "$LOCAL/state" "$LOGS" "$REG_DIR" "$PKI" "$RUN" "$LOCAL/credentials.env" "$LOCAL/passphrase" \
    "$PROD_REG_DIR" "$PROD_CREDS"
  [[ -x "$ROOT/node_modules/.bin/ts-node" ]] || die "node_modules missing: run npm ci first (the checks use lib/registry.ts)"

  for tool in openssl htpasswd curl jq ss setsid; do
    command -v "$tool" >/dev/null || die "$tool missing (scripts/toolchain.sh installs the Debian packages)"
  done
  [[ -x "$BUILDX_BIN" ]] || die "$BUILDX_BIN missing (built by scripts/toolchain.sh)"
  ensure_hosts
  ensure_pki
  ensure_creds
  if ((PROD_REG_ENABLED)); then ensure_prod_creds; fi
  ensure_binfmt
  # Every port is checked before anything starts: a clash with another checkout leaves nothing half up.
  for svc in "${SERVICES[@]}"; do
    [[ -n "$(svc_pid "$svc")" ]] || refuse_taken_port "$svc" "$(svc_port "$svc")"
  done
  save_ports
  # Launch what is needed first, then wait for each: the daemons start in parallel.
  start_registry
  start_buildkitd amd64
  start_buildkitd arm64
  if ((PROD_REG_ENABLED)); then start_prod_registry; fi
  if [[ -n "${STARTED[registry]:-}" ]]; then wait_registry; fi
  wait_buildkitd amd64
  wait_buildkitd arm64
  if [[ -n "${STARTED[prod-registry]:-}" ]]; then wait_prod_registry; fi
  log "all services up in $((SECONDS - t0))s: registry https://$REG_ADDR, builders dayu-amd64 (tcp://127.0.0.1:${BK_PORT[amd64]}), dayu-arm64 (tcp://127.0.0.1:${BK_PORT[arm64]})"
  if ((PROD_REG_ENABLED)); then
    log "prod registry https://$PROD_REG_ADDR (user $PROD_USER, password in $PROD_CREDS)"
  fi
  log "use them with: eval \"\$($0 env)\""
}

cmd_stop() {
  require_root
  mkdir -p "$RUN"
  lock
  # Stopped whenever it runs, on or off (found by its pid file or its config on the command line).
  if ((PROD_REG_ENABLED)) || [[ -n "$(svc_pid prod-registry)" ]]; then stop_svc prod-registry; fi
  stop_svc buildkitd-arm64
  stop_svc buildkitd-amd64
  stop_svc registry
  untrust_ca
}

cmd_status() {
  local all=0 svc pid state
  for svc in "${SERVICES[@]}"; do
    pid="$(svc_pid "$svc" 2>/dev/null || true)"
    if [[ -z "$pid" ]]; then
      state=stopped; all=1
    elif port_open "$(svc_port "$svc")"; then
      state=running
    else
      state=unhealthy; all=1
    fi
    printf '%-16s %-9s pid %-7s %s\n' "$svc" "$state" "${pid:--}" "$(svc_address "$svc")"
  done
  if [[ -f "$SYSTEM_CA" ]]; then echo "local CA trusted system-wide as $SYSTEM_CA"
  else echo "local CA not in the system trust store (it is added by start, removed by stop)"; fi
  return "$all"
}

# env: the one definition of the environment is scripts/env.sh; this prints the line that sources it.
cmd_env() {
  load_creds || die "no credentials yet ($CREDS): run '$0 start' first"
  printf 'source %q\n' "$ROOT/scripts/env.sh"
}

usage() { sed -n '13,25p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }

# start's flags: --prod-registry turns the prod registry on (remembered), --no-prod-registry off (it is
# stopped, its files are kept).
start_flags() {
  local flag
  for flag in "$@"; do
    case "$flag" in
      --prod-registry) PROD_REG_ENABLED=1 ;;
      --no-prod-registry)
        PROD_REG_ENABLED=0
        if [[ -n "$(svc_pid prod-registry)" ]]; then require_root; stop_svc prod-registry; fi
        ;;
      *) usage ;;
    esac
  done
  set_services
}

case "${1:-}" in
  start) start_flags "${@:2}"; cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  env) cmd_env ;;
  *) usage ;;
esac
