#!/bin/bash
# Portside server bootstrap: lays out one server for the deploy CLI and starts Caddy.
#
#   bash bootstrap.sh             EC2 (the UserData wrapper sets PORTSIDE_*): install Caddy, Node, pm2,
#                                 ufw and the CloudFormation helpers, seed from the instance's metadata,
#                                 start cfn-hup, signal CloudFormation.
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
# The py3 build; 2.0-31 and later run on Ubuntu 24.04's Python 3.12.
CFN_BOOTSTRAP_URL=https://s3.amazonaws.com/cloudformation-examples/aws-cfn-bootstrap-py3-latest.tar.gz
NODE_MAJOR="${PORTSIDE_NODE_MAJOR:-24}"

log() { printf '%s portside-bootstrap: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"; }
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
  local rule=/etc/sudoers.d/portside-build
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

# EC2: any failure, a failed command (ERR) or a `die`, ends in the EXIT trap, which tells CloudFormation at
# once, so `cdk deploy` fails now with a pointer to the log instead of after the 15-minute timeout.
FAILED_AT=""
signal_failure() {
  local code="$1" args
  [ "$code" -eq 0 ] && return 0
  local reason="Portside bootstrap failed (${FAILED_AT:-exit $code}); see $LOG on the server"
  log "error: $reason"
  if [ -x "$CFN_BIN/cfn-signal" ]; then
    mapfile -t args < <(cfn_args)
    "$CFN_BIN/cfn-signal" --exit-code 1 --reason "$reason" "${args[@]}" || log "could not signal CloudFormation"
  else
    log "the CloudFormation helpers are not installed yet: the deploy fails when its wait times out"
  fi
}

# Network steps on a fresh boot can fail once (DNS, IAM credentials not there yet): try a few times.
retry() {
  local i
  for i in 1 2 3 4 5; do
    "$@" && return 0
    log "attempt $i of 5 failed: $*"
    sleep $((i * 3))
  done
  return 1
}

apt_install() {
  # Ubuntu's first boot runs unattended-upgrades: wait for its lock instead of failing on it.
  DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=a apt-get -o DPkg::Lock::Timeout=600 -y -q install "$@"
}
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

install_packages() {
  apt_repo caddy-stable https://dl.cloudsmith.io/public/caddy/stable/gpg.key \
    'https://dl.cloudsmith.io/public/caddy/stable/deb/debian any-version main'
  # A system Node (not nvm) so node, npm and pm2 resolve in a non-interactive SSH session.
  apt_repo nodesource https://deb.nodesource.com/gpgkey/nodesource-repo.gpg.key \
    "https://deb.nodesource.com/node_$NODE_MAJOR.x nodistro main"
  apt_update
  apt_install caddy nodejs
  command -v pm2 >/dev/null || retry npm install -g --no-fund --no-audit pm2
  [ -f "/etc/systemd/system/pm2-$PORTSIDE_USER.service" ] \
    || pm2 startup systemd -u "$PORTSIDE_USER" --hp "$USER_HOME"
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
  printf '[portside-declared]\ntriggers=post.update\npath=Resources.%s.Metadata.%s\naction=%s\nrunas=root\n' \
    "$PORTSIDE_RESOURCE" "$PORTSIDE_METADATA_KEY" '/usr/local/sbin/portside-bootstrap --declared' \
    >/etc/cfn/hooks.d/portside.conf
  printf '[Unit]\nDescription=cfn-hup (applies CloudFormation metadata changes)\nAfter=network-online.target\n\n[Service]\nExecStart=%s --no-daemon\nRestart=always\n\n[Install]\nWantedBy=multi-user.target\n' \
    "$CFN_BIN/cfn-hup" >/etc/systemd/system/cfn-hup.service
  systemctl daemon-reload
  systemctl enable cfn-hup
  systemctl restart cfn-hup
}

main_ec2() {
  exec > >(tee -a "$LOG") 2>&1
  # cloud-init runs UserData without HOME; npm and Caddy both need one.
  export HOME="${HOME:-/root}"
  trap 'FAILED_AT="line $LINENO: $BASH_COMMAND"' ERR
  trap 'signal_failure $?' EXIT
  log "EC2 bootstrap of stack $PORTSIDE_STACK, resource $PORTSIDE_RESOURCE"
  # First, so that any later failure can be signalled at once instead of after the timeout.
  install_cfn_helpers
  local seed=/var/lib/portside/seed
  fetch_declared "$seed"
  install_packages
  configure_firewall
  make_build_user
  lay_out_server "$seed"
  start_caddy_systemd
  wait_for_http
  install_cfn_hup
  mapfile -t args < <(cfn_args)
  "$CFN_BIN/cfn-signal" --exit-code 0 "${args[@]}" || log "CloudFormation did not take the signal (already signalled?)"
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

case "$MODE" in
  ec2) main_ec2 ;;
  local) main_local ;;
  declared) main_declared ;;
  build-user) make_build_user ;;
esac
