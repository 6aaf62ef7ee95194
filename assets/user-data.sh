#!/bin/bash
# Constant (new UserData stops the server): runs bootstrap.sh from the instance's metadata.
set -Eeuo pipefail
LOG=/var/log/portside-bootstrap.log
STEP="start outside cloud-init"
log() { printf '%s portside-user-data: %s\n' "$(date -u +%FT%TZ)" "$*" >&2; }
# A failure outside bootstrap.sh: its signal, same UniqueId.
fail() {
  local code=$? body
  [ "$code" -eq 0 ] && return 0
  [ -e /var/lib/portside/boot-signalled ] && return 0 # bootstrap.sh did
  body="$(python3 -c 'import json, sys
s, t = sys.argv[1:3]
b = lambda t: json.dumps({"Status": "FAILURE", "Reason": s + t, "UniqueId": "portside-boot", "Data": "FAILURE"})
while len(b(t).encode()) > 4000: t = t[max(1, len(t) // 10):]
print(b(t))' "Portside boot failed at step \"$STEP\" (exit $code); last lines of $LOG: " "$(tail -n 20 "$LOG" 2>/dev/null)")"
  curl -fsS --retry 5 -o /dev/null -X PUT -H 'Content-Type:' --data-binary "$body" "$PORTSIDE_SIGNAL_URL"
}
trap fail EXIT
if [ "${1:-}" != --detached ]; then
  # In cloud-init, `cloud-init status --wait` would wait for itself: run as our own unit.
  systemd-run --no-block --unit=portside-boot --property=After=cloud-final.service \
    /bin/bash "$(readlink -f "$0")" --detached
  exit 0
fi
exec >>"$LOG" 2>&1
export HOME=/root PORTSIDE_LOGGED=1 DEBIAN_FRONTEND=noninteractive
STEP="wait for cloud-init"
cloud-init status --wait >/dev/null || log "cloud-init reports a problem (see cloud-init status --long); going on"
# apt-daily/unattended-upgrades hold apt's locks at first boot: ~3 minutes of backoff.
retry() {
  local d
  for d in 5 10 20 40 60 60 0; do
    "$@" && return 0
    [ "$d" -gt 0 ] || return 1
    log "failed, again in ${d}s: $*"
    sleep "$d"
  done
}
STEP="apt-get update"
retry apt-get -o DPkg::Lock::Timeout=600 -q update
STEP="install python3-venv"
retry apt-get -o DPkg::Lock::Timeout=600 -y -q install python3-venv curl
STEP="install the CloudFormation helpers"
CFN=/opt/aws/venv/bin
if [ ! -x "$CFN/cfn-get-metadata" ]; then
  python3 -m venv /opt/aws/venv
  retry "$CFN/pip" install -q https://s3.amazonaws.com/cloudformation-examples/aws-cfn-bootstrap-py3-latest.tar.gz
fi
# Python 3.12 needs aws-cfn-bootstrap 2.0-33 or later.
"$CFN/python" -c 'import re, sys, importlib.metadata as m
v = m.version("aws-cfn-bootstrap")
if tuple(map(int, re.findall("[0-9]+", v)[:3])) < (2, 0, 33): sys.exit("aws-cfn-bootstrap %s < 2.0-33" % v)'
STEP="fetch the bootstrap"
meta="$(retry "$CFN/cfn-get-metadata" --stack "$PORTSIDE_STACK" --resource "$PORTSIDE_RESOURCE" \
  --region "$PORTSIDE_REGION" --key "$PORTSIDE_BOOTSTRAP_KEY")"
install -d -m 0755 /var/lib/portside
python3 -c 'import json, sys; sys.stdout.write(json.load(sys.stdin)["script"])' <<<"$meta" >/var/lib/portside/bootstrap.sh
STEP="run the bootstrap"
bash /var/lib/portside/bootstrap.sh
