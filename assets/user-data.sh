#!/bin/bash
# Portside UserData body, after the PORTSIDE_* exports. Constant on purpose: a change to UserData stops and
# starts the server, so this only fetches assets/bootstrap.sh from the instance's metadata and runs it.
set -Eeuo pipefail
LOG=/var/log/portside-bootstrap.log
STEP="start outside cloud-init"
log() { printf '%s portside-user-data: %s\n' "$(date -u +%FT%TZ)" "$*" >&2; }
# A failure before the bootstrap signals itself: the same signal as its own (see bootstrap.sh).
# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-waitcondition.html
fail() {
  local code=$? body
  [ "$code" -eq 0 ] && return 0
  log "error: step \"$STEP\" failed (exit $code)"
  body="$(python3 -c 'import json, sys
s, t = sys.argv[1:3]
b = lambda t: json.dumps({"Status": "FAILURE", "Reason": s + t, "UniqueId": "portside-boot", "Data": "FAILURE"})
while len(b(t).encode()) > 4000: t = t[max(1, len(t) // 10):]
print(b(t))' "Portside boot failed at step \"$STEP\" (exit $code); last lines of $LOG: " "$(tail -n 20 "$LOG" 2>/dev/null)")"
  curl -fsS --retry 5 -o /dev/null -X PUT -H 'Content-Type:' --data-binary "$body" "$PORTSIDE_SIGNAL_URL"
}
trap fail EXIT
if [ "${1:-}" != --detached ]; then
  # cloud-init runs this in its last stage, where `cloud-init status --wait` would wait for itself: run
  # the rest as a service of its own, after cloud-init.
  systemd-run --no-block --unit=portside-boot --property=After=cloud-final.service \
    /bin/bash "$(readlink -f "$0")" --detached
  exit 0
fi
exec >>"$LOG" 2>&1
export HOME=/root PORTSIDE_LOGGED=1 DEBIAN_FRONTEND=noninteractive
STEP="wait for cloud-init"
cloud-init status --wait >/dev/null || log "cloud-init reports a problem (see cloud-init status --long); going on"
# apt-daily and unattended-upgrades hold apt's locks on a first boot: ~3 minutes of backoff.
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
"$CFN/python" -c 'import re, sys
from importlib.metadata import version
v = version("aws-cfn-bootstrap")
n = tuple(int(x) for x in re.findall("[0-9]+", v)[:3])
sys.exit(0 if n >= (2, 0, 33) else "aws-cfn-bootstrap %s is older than 2.0-33 (Python 3.12 needs it)" % v)'
STEP="fetch the bootstrap from the instance's metadata"
meta="$(retry "$CFN/cfn-get-metadata" --stack "$PORTSIDE_STACK" --resource "$PORTSIDE_RESOURCE" \
  --region "$PORTSIDE_REGION" --key "$PORTSIDE_BOOTSTRAP_KEY")"
install -d -m 0755 /var/lib/portside
python3 -c 'import json, sys; sys.stdout.write(json.load(sys.stdin)["script"])' <<<"$meta" >/var/lib/portside/bootstrap.sh
STEP="run the bootstrap"
bash /var/lib/portside/bootstrap.sh
