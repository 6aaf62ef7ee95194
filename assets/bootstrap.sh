#!/bin/bash
# Portside server bootstrap: lays out one server for the deploy CLI and starts Caddy.
#
#   bash bootstrap.sh             EC2 (started by the UserData stub, assets/user-data.sh, which sets PORTSIDE_*):
#                                 install Caddy, Node, pm2, ufw and the CloudFormation helpers, seed from the
#                                 instance's metadata, start cfn-hup, signal the boot wait condition.
#   bash bootstrap.sh --local     the local stand-in: seed from PORTSIDE_SEED_DIR, run `caddy start`.
#   bash bootstrap.sh --declared  (EC2, run by cfn-hup) write the newly declared config beside the live one.
#   bash bootstrap.sh --build-user  only make the build user (the local stand-in runs it at every `local up`).
#
# Idempotent: every step checks before it changes anything, and nothing the deploy CLI owns (the registry,
# the live Caddyfile, the `current` site) is overwritten once it exists.
set -Eeuo pipefail

MODE=ec2
case "${1:-}" in
  '') ;;
  --local) MODE=local ;;
  --declared) MODE=declared ;;
  --build-user) MODE=build-user ;;
  *) echo "usage: bootstrap.sh [--local | --declared | --build-user]" >&2; exit 2 ;;
esac

: "${PORTSIDE_USER:?set PORTSIDE_USER to the deploy user, e.g. ubuntu}"
: "${PORTSIDE_WWW:?set PORTSIDE_WWW to the static site folder, e.g. /var/www/portside}"
: "${PORTSIDE_CADDY_DIR:?set PORTSIDE_CADDY_DIR to the Caddyfile folder, e.g. /etc/portside}"
# Overridable so a test can run a second Caddy beside one already on 2019/80.
ADMIN="${PORTSIDE_CADDY_ADMIN:-127.0.0.1:2019}"
CHECK_URL="${PORTSIDE_HTTP_CHECK_URL:-http://127.0.0.1:80/}"
CADDYFILE="$PORTSIDE_CADDY_DIR/Caddyfile"
# Overridable so tests can run --declared against a stub of the CloudFormation helpers.
LOG="${PORTSIDE_LOG:-/var/log/portside-bootstrap.log}"
CFN_BIN="${PORTSIDE_CFN_BIN:-/opt/aws/bin}"
# The py3 build. Ubuntu 24.04's Python 3.12 needs 2.0-33 or later (2.0-31 dropped `imp`, 2.0-33
# `SafeConfigParser`): the UserData stub checks the installed version.
CFN_BOOTSTRAP_URL=https://s3.amazonaws.com/cloudformation-examples/aws-cfn-bootstrap-py3-latest.tar.gz
NODE_MAJOR="${PORTSIDE_NODE_MAJOR:-24}"

log() { printf '%s portside-bootstrap: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"; }
# Progress lines that must never reach a caller's $(...) capture (retry wraps commands whose output is data).
warn() { log "$@" >&2; }
die() { FAILED_AT="$*"; log "error: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (it creates folders for $PORTSIDE_USER and starts Caddy)"
id "$PORTSIDE_USER" >/dev/null 2>&1 || die "user \"$PORTSIDE_USER\" does not exist"
USER_HOME="${PORTSIDE_HOME:-$(getent passwd "$PORTSIDE_USER" | cut -d: -f6)}"
USER_GROUP="$(id -gn "$PORTSIDE_USER")"

# A folder owned by the deploy user; the CLI writes into these over SSH without sudo.
user_dir() { install -d -o "$PORTSIDE_USER" -g "$USER_GROUP" -m 0755 "$@"; }
# A file copied from the seed only when absent: a live file belongs to the deploy CLI. Optional $3:
# its mode (default 0644), also put right on a kept file.
seed_file() {
  local mode="${3:-0644}"
  if [ -e "$2" ]; then
    [ "$mode" = 0644 ] || chmod "$mode" "$2"
    log "kept $2 (exists)"
    return 0
  fi
  install -o "$PORTSIDE_USER" -g "$USER_GROUP" -m "$mode" "$1" "$2"
  log "wrote $2"
}

# Install scripts a service allows (package.json "allowScripts") run as this user, never as the deploy user
# (a `postinstall: rm -rf ~` once took ~/.ssh, the registry and every release). It owns nothing of Portside's
# and cannot enter the deploy user's home; the deploy user may run commands as it, and as nobody else.
BUILD_USER=portside-build
make_build_user() {
  # PORTSIDE_BUILD_SUDOERS: the local fleet's servers share one machine, so each deploy user gets its own rule file.
  local rule="${PORTSIDE_BUILD_SUDOERS:-/etc/sudoers.d/portside-build}"
  id "$BUILD_USER" >/dev/null 2>&1 \
    || useradd --system --create-home --home-dir "/var/lib/$BUILD_USER" --shell /usr/sbin/nologin "$BUILD_USER"
  chmod 0750 "$USER_HOME"
  printf '%s ALL=(%s) NOPASSWD: ALL\n' "$PORTSIDE_USER" "$BUILD_USER" >"$rule.tmp"
  chmod 0440 "$rule.tmp"
  visudo -cqf "$rule.tmp" || die "visudo refused the rule in $rule.tmp"
  mv -f "$rule.tmp" "$rule"
}

lay_out_server() {
  local seed="$1" f out
  for f in registry.json Caddyfile index.html; do
    [ -f "$seed/$f" ] || die "the seed folder $seed has no $f"
  done
  user_dir "$USER_HOME/.portside" "$USER_HOME/.portside/bin" "$USER_HOME/services"
  # The registry lists every service and its port: the deploy user's alone (the agent writes it 0600 too).
  seed_file "$seed/registry.json" "$USER_HOME/.portside/registry.json" 0600
  # The CLI renames a new Caddyfile into this folder, so the folder itself must be the user's.
  user_dir "$PORTSIDE_CADDY_DIR"
  seed_file "$seed/Caddyfile" "$CADDYFILE"
  user_dir "$PORTSIDE_WWW" "$PORTSIDE_WWW/releases"
  if [ -e "$PORTSIDE_WWW/current" ] || [ -L "$PORTSIDE_WWW/current" ]; then
    log "kept $PORTSIDE_WWW/current (exists)"
  else
    user_dir "$PORTSIDE_WWW/releases/initial"
    seed_file "$seed/index.html" "$PORTSIDE_WWW/releases/initial/index.html"
    ln -s releases/initial "$PORTSIDE_WWW/current"
    chown -h "$PORTSIDE_USER:$USER_GROUP" "$PORTSIDE_WWW/current"
    log "linked $PORTSIDE_WWW/current -> releases/initial"
  fi
  if ! out="$(caddy validate --config "$CADDYFILE" --adapter caddyfile 2>&1)"; then
    printf '%s\n' "$out" >&2
    die "$CADDYFILE is not a valid Caddyfile (Caddy's words above)"
  fi
}

wait_for_http() {
  local i
  for i in $(seq 1 150); do
    # Any HTTP answer counts (a redirect to HTTPS too); only "no answer" is a failure.
    if curl -s -o /dev/null --max-time 2 "$CHECK_URL"; then log "Caddy answers at $CHECK_URL"; return 0; fi
    [ "$i" -lt 150 ] && sleep 0.2
  done
  die "nothing answered at $CHECK_URL after 30 s; see Caddy's log"
}

start_caddy_local() {
  if curl -s -o /dev/null --max-time 2 "http://$ADMIN/config/"; then
    caddy reload --config "$CADDYFILE" --adapter caddyfile --address "$ADMIN"
    log "reloaded the running Caddy (admin $ADMIN)"
  else
    # `caddy start` hands its stdout to the background server: a file, so no caller's pipe stays open.
    caddy start --config "$CADDYFILE" --adapter caddyfile >>"${PORTSIDE_CADDY_LOG:-$PORTSIDE_CADDY_DIR/caddy.log}" 2>&1
    log "started Caddy (admin $ADMIN)"
  fi
}

# ---------------------------------------------------------------- EC2 only

: "${PORTSIDE_METADATA_KEY:=Portside}"
cfn_args() { printf '%s\n' --stack "${PORTSIDE_STACK:?}" --resource "${PORTSIDE_RESOURCE:?}" --region "${PORTSIDE_REGION:?}"; }

# EC2: any failure, a failed command (ERR) or a `die`, ends in the EXIT trap, which signals the boot wait
# condition at once with the step, the command and the log's last lines, so `cdk deploy` fails now with the
# reason in the stack events instead of after the 15-minute timeout.
FAILED_AT=""
STEP="start"
# PORTSIDE_REHEARSAL_FAIL_AT is set only by `npm run rehearse-boot`, for steps no stand-in can make fail.
step() {
  STEP="$1"
  log "step: $1"
  [ "${PORTSIDE_REHEARSAL_FAIL_AT:-}" != "$1" ] || die "rehearsal: step $1 fails on purpose (PORTSIDE_REHEARSAL_FAIL_AT)"
  "$@"
}

# The wait condition handle's signal: a PUT of {Status, Reason, UniqueId, Data} to its presigned URL with an
# empty Content-Type; needs only curl (and python3, which cloud-init itself runs on, to encode the JSON).
#   https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-waitcondition.html
# Signal data is limited to 4,096 bytes, so the body is kept under 4,000 by dropping the oldest log lines.
#   https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html
# One UniqueId for every signal of a boot: a second one (the stub's, after ours) is a retransmission.
signal_body() {
  python3 -c 'import json, sys
status, head, tail = sys.argv[1:4]
def body(t):
    return json.dumps({"Status": status, "Reason": head + t, "UniqueId": "portside-boot", "Data": status})
while len(body(tail).encode()) > 4000:
    tail = tail[max(1, len(tail) // 10):]
print(body(tail))' "$@"
}
signal_wait_condition() {
  local body
  if [ -n "${PORTSIDE_SIGNAL_RESOURCE:-}" ]; then
    signal_resource "$1"
  else
    [ -n "${PORTSIDE_SIGNAL_URL:-}" ] || { warn "PORTSIDE_SIGNAL_URL is not set: no wait condition to signal"; return 1; }
    body="$(signal_body "$@")"
    retry curl -fsS -o /dev/null -X PUT -H 'Content-Type:' --data-binary "$body" "$PORTSIDE_SIGNAL_URL"
  fi
  # The UserData stub's own trap sends nothing after this (see assets/user-data.sh); tests point it elsewhere.
  local mark="${PORTSIDE_SIGNALLED_MARK:-/var/lib/portside/boot-signalled}"
  mkdir -p "${mark%/*}" && : >"$mark"
}
# A fleet server signals its Auto Scaling group (its CreationPolicy and a rolling update's WaitOnResourceSignals
# count these). SignalResource carries no reason: the reason stays in the log. cfn-signal needs no credentials
# ("CloudFormation checks for stack membership"), https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/cfn-signal.html
signal_resource() {
  local ok=true
  [ "$1" = SUCCESS ] || ok=false
  # A failure before the helpers are installed cannot be signalled: say so now rather than retry for minutes.
  [ -x "$CFN_BIN/cfn-signal" ] || { warn "$CFN_BIN/cfn-signal is not installed yet: CloudFormation will wait for its timeout"; return 1; }
  retry "$CFN_BIN/cfn-signal" --success "$ok" --stack "${PORTSIDE_STACK:?}" --resource "$PORTSIDE_SIGNAL_RESOURCE" --region "${PORTSIDE_REGION:?}"
}
signal_failure() {
  local code="$1" tail
  [ "$code" -eq 0 ] && return 0
  log "error: step \"$STEP\" failed (${FAILED_AT:-exit $code})"
  tail="$(tail -n 20 "$LOG" 2>/dev/null || true)"
  signal_wait_condition FAILURE "Portside bootstrap failed at step \"$STEP\" (${FAILED_AT:-exit $code}); last lines of $LOG: " "$tail" \
    || log "could not signal CloudFormation: the deploy fails when its wait times out"
}

# Network steps on a fresh boot can fail for a while (DNS, IAM credentials, apt's lists lock held by
# apt-daily or unattended-upgrades): retry with backoff, ~3 minutes in all. Its own lines go to stderr,
# because callers capture what the command prints (the metadata JSON).
RETRY_DELAYS="${PORTSIDE_RETRY_DELAYS:-5 10 20 40 60 60}"
retry() {
  local delay n=1 total
  total=$(( $(wc -w <<<"$RETRY_DELAYS") + 1 ))
  for delay in $RETRY_DELAYS; do
    "$@" && return 0
    warn "attempt $n of $total failed, again in ${delay}s: $*"
    sleep "$delay"
    n=$((n + 1))
  done
  "$@" && return 0
  warn "attempt $total of $total failed: $*"
  return 1
}

apt_install() {
  # Ubuntu's first boot runs unattended-upgrades: wait for its lock instead of failing on it.
  DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=a apt-get -o DPkg::Lock::Timeout=600 -y -q install "$@"
}
# DPkg::Lock::Timeout covers dpkg's lock only, not the lists lock `apt-get update` takes: retry covers that.
apt_update() { retry apt-get -o DPkg::Lock::Timeout=600 -q update; }

install_cfn_helpers() {
  apt_update
  apt_install python3-venv curl gnupg ca-certificates jq
  if [ ! -x /opt/aws/venv/bin/cfn-signal ]; then
    # Ubuntu refuses system-wide pip (PEP 668): the helpers get their own venv.
    python3 -m venv /opt/aws/venv
    retry /opt/aws/venv/bin/pip install -q "$CFN_BOOTSTRAP_URL"
  fi
  install -d "$CFN_BIN"
  local t
  for t in cfn-signal cfn-get-metadata cfn-hup cfn-init; do ln -sfn "/opt/aws/venv/bin/$t" "$CFN_BIN/$t"; done
}

# Write the declared files from the instance's CloudFormation metadata into a folder.
fetch_declared() {
  local dir="$1" json f args
  mapfile -t args < <(cfn_args)
  json="$(retry "$CFN_BIN/cfn-get-metadata" "${args[@]}" --key "$PORTSIDE_METADATA_KEY")"
  install -d -m 0755 "$dir"
  for f in registry.json Caddyfile index.html; do
    jq -j --arg f "$f" '.files[$f] // error("metadata has no " + $f)' <<<"$json" >"$dir/$f"
  done
}

apt_repo() {
  local name="$1" key_url="$2" line="$3" keyring="/etc/apt/keyrings/$1.gpg"
  install -d -m 0755 /etc/apt/keyrings
  [ -s "$keyring" ] || { retry curl -fsSL -o "$keyring.asc" "$key_url" && gpg --dearmor --yes -o "$keyring" "$keyring.asc"; }
  printf 'deb [signed-by=%s] %s\n' "$keyring" "$line" >"/etc/apt/sources.list.d/$name.list"
}

# Caddy is Ubuntu's own package (universe): 2.6.2 on 24.04 (https://packages.ubuntu.com/noble/caddy), the
# upstream version every test runs (Debian 12's 2.6.2), with Ubuntu's security updates. Caddy's repository
# would install whatever it released last, which no test has seen.
CADDY_VERSION="2.6.2"

install_packages() {
  # A system Node (not nvm) so node, npm and pm2 resolve in a non-interactive SSH session.
  apt_repo nodesource https://deb.nodesource.com/gpgkey/nodesource-repo.gpg.key \
    "https://deb.nodesource.com/node_$NODE_MAJOR.x nodistro main"
  apt_update
  apt_install caddy nodejs
  command -v pm2 >/dev/null || retry npm install -g --no-fund --no-audit pm2
  [ -f "/etc/systemd/system/pm2-$PORTSIDE_USER.service" ] \
    || pm2 startup systemd -u "$PORTSIDE_USER" --hp "$USER_HOME"
}

# A different Caddy (another Ubuntu release, a repository added by hand) would serve Caddyfiles no test has
# checked against it: stop here and say so.
check_caddy_version() {
  local v
  v="$(caddy version)"
  [[ "$v" =~ ^v?${CADDY_VERSION//./\\.}([^0-9]|$) ]] \
    || die "caddy version says \"$v\", not $CADDY_VERSION: the Caddyfiles are tested against $CADDY_VERSION only"
}

configure_firewall() {
  local port
  ufw default deny incoming
  ufw default allow outgoing
  for port in ${PORTSIDE_PUBLIC_PORTS:?}; do ufw allow "$port/tcp"; done
  ufw --force enable
}

start_caddy_systemd() {
  # The packaged unit reads /etc/caddy/Caddyfile: point it at the file the deploy user owns.
  ln -sfn "$CADDYFILE" /etc/caddy/Caddyfile
  systemctl enable caddy
  if systemctl is-active --quiet caddy; then systemctl reload caddy; else systemctl start caddy; fi
}

install_cfn_hup() {
  install -m 0755 "${BASH_SOURCE[0]}" /usr/local/sbin/portside-bootstrap
  install -d -m 0700 /etc/cfn /etc/cfn/hooks.d
  printf '[main]\nstack=%s\nregion=%s\ninterval=1\n' "$PORTSIDE_STACK" "$PORTSIDE_REGION" >/etc/cfn/cfn-hup.conf
  # The hook's action runs without this process's environment: the settings travel in a file.
  local v
  for v in PORTSIDE_STACK PORTSIDE_REGION PORTSIDE_RESOURCE PORTSIDE_METADATA_KEY PORTSIDE_USER PORTSIDE_WWW PORTSIDE_CADDY_DIR \
    PORTSIDE_SIGNAL_RESOURCE PORTSIDE_STORE_BUCKET PORTSIDE_PARAMETER_PREFIX PORTSIDE_CONVERGED_MARKER PORTSIDE_CONVERGE_KEY; do
    # The last five exist on a fleet server only.
    [ -n "${!v:-}" ] || continue
    printf 'export %s=%q\n' "$v" "${!v}"
  done >/etc/default/portside
  printf '[portside-declared]\ntriggers=post.update\npath=Resources.%s.Metadata.%s\naction=%s\nrunas=root\n' \
    "$PORTSIDE_RESOURCE" "$PORTSIDE_METADATA_KEY" '/bin/bash -c ". /etc/default/portside && exec /usr/local/sbin/portside-bootstrap --declared"' \
    >/etc/cfn/hooks.d/portside.conf
  cfn_hup_service >/etc/systemd/system/cfn-hup.service
  cfn_hup_timer >/etc/systemd/system/cfn-hup.timer
  systemctl daemon-reload
  systemctl enable --now cfn-hup.timer
}

# `cfn-hup --no-daemon` runs the check once and exits (AWS: "Specify this option to run the cfn-hup script
# once and exit", https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/cfn-hup.html), so it
# is a oneshot service that a timer starts every minute; systemd never starts a second run over a running one.
cfn_hup_service() {
  printf '%s\n' '[Unit]' 'Description=cfn-hup, once (applies CloudFormation metadata changes; started by cfn-hup.timer)' \
    'After=network-online.target' 'Wants=network-online.target' '' \
    '[Service]' 'Type=oneshot' "ExecStart=$CFN_BIN/cfn-hup --no-daemon"
}
cfn_hup_timer() {
  printf '%s\n' '[Unit]' 'Description=Run cfn-hup once a minute' '' \
    '[Timer]' 'OnBootSec=1min' 'OnUnitInactiveSec=1min' '' \
    '[Install]' 'WantedBy=timers.target'
}

# A fleet server converges at boot, before it reports success: a rolling update moves on, and the load
# balancer sends it requests, only once it serves the current release. The command that does it is the
# converge hook (the fleet contract, issue #10); it reads its settings from /etc/default/portside.
CONVERGE_HOOK="${PORTSIDE_CONVERGE_HOOK:-/usr/local/sbin/portside-converge}"
# The hook travels in the launch template's metadata (key PORTSIDE_CONVERGE_KEY), like this script.
install_converge_hook() {
  local json args
  mapfile -t args < <(cfn_args)
  json="$(retry "$CFN_BIN/cfn-get-metadata" "${args[@]}" --key "${PORTSIDE_CONVERGE_KEY:?}")"
  jq -j '.script // error("metadata has no converge script")' <<<"$json" >"$CONVERGE_HOOK.tmp"
  chmod 0755 "$CONVERGE_HOOK.tmp"
  mv -f "$CONVERGE_HOOK.tmp" "$CONVERGE_HOOK"
}
converge_at_boot() {
  if [ -x "$CONVERGE_HOOK" ]; then
    "$CONVERGE_HOOK"
    return
  fi
  # No hook: nothing was ever deployed through it, so there is nothing to converge to. Say so, and mark the
  # server converged so the load balancer's health check (the marker beside the Caddyfile) passes.
  log "no converge hook ($CONVERGE_HOOK): serving the seeded configuration"
  install -o "$PORTSIDE_USER" -g "$USER_GROUP" -m 0644 /dev/null "${PORTSIDE_CONVERGED_MARKER:?}"
}

main_ec2() {
  # The UserData stub already sends this process's output to the log.
  [ -n "${PORTSIDE_LOGGED:-}" ] || exec > >(tee -a "$LOG") 2>&1
  # cloud-init runs UserData without HOME; npm and Caddy both need one.
  export HOME="${HOME:-/root}"
  trap 'FAILED_AT="line $LINENO: $BASH_COMMAND"' ERR
  trap 'signal_failure $?' EXIT
  log "EC2 bootstrap of stack $PORTSIDE_STACK, resource $PORTSIDE_RESOURCE"
  step install_cfn_helpers
  local seed=/var/lib/portside/seed
  step fetch_declared "$seed"
  step install_packages
  step check_caddy_version
  step configure_firewall
  step make_build_user
  step lay_out_server "$seed"
  step start_caddy_systemd
  # Success only once Caddy answers on :80: that is what the deploy waits for.
  step wait_for_http
  step install_cfn_hup
  if [ -n "${PORTSIDE_SIGNAL_RESOURCE:-}" ]; then
    [ -z "${PORTSIDE_CONVERGE_KEY:-}" ] || step install_converge_hook
    step converge_at_boot
  fi
  STEP="signal success"
  signal_wait_condition SUCCESS "Portside bootstrap done: Caddy answers at $CHECK_URL" ""
  log "done"
}

# cfn-hup: a `cdk deploy` changed the declared config. The live registry and Caddyfile belong to the
# deploy CLI; the declared ones are put beside them for the CLI to compare and adopt.
main_declared() {
  exec >>"$LOG" 2>&1
  local tmp
  tmp="$(mktemp -d)"
  fetch_declared "$tmp"
  install -o "$PORTSIDE_USER" -g "$USER_GROUP" -m 0600 "$tmp/registry.json" "$PORTSIDE_CADDY_DIR/.declared.json.tmp"
  mv -f "$PORTSIDE_CADDY_DIR/.declared.json.tmp" "$PORTSIDE_CADDY_DIR/declared.json"
  install -o "$PORTSIDE_USER" -g "$USER_GROUP" -m 0644 "$tmp/Caddyfile" "$PORTSIDE_CADDY_DIR/.declared.Caddyfile.tmp"
  mv -f "$PORTSIDE_CADDY_DIR/.declared.Caddyfile.tmp" "$PORTSIDE_CADDY_DIR/declared.Caddyfile"
  rm -rf "$tmp"
  log "updated $PORTSIDE_CADDY_DIR/declared.json and declared.Caddyfile from the stack's metadata"
}

main_local() {
  : "${PORTSIDE_SEED_DIR:?set PORTSIDE_SEED_DIR to a folder with registry.json, Caddyfile and index.html}"
  command -v caddy >/dev/null || die "caddy is not installed"
  lay_out_server "$PORTSIDE_SEED_DIR"
  start_caddy_local
  wait_for_http
  log "done"
}

# Sourced (the tests do, to run single functions): define everything, run nothing.
[ "${BASH_SOURCE[0]}" = "$0" ] || return 0

case "$MODE" in
  ec2) main_ec2 ;;
  local) main_local ;;
  declared) main_declared ;;
  build-user) make_build_user ;;
esac
