#!/bin/bash
# portside-converge: a fleet server (EC2) to the release store's manifest, at boot (assets/bootstrap.sh's
# converge_at_boot runs /usr/local/sbin/portside-converge as root, before the success signal).
# The agent is not on a new instance yet: the manifest names the agent version the last rollout used,
# stored beside the releases (agent/<version>.tar.gz); this script fetches it with the instance role's
# credentials (IMDSv2, curl's SigV4: no AWS CLI on the image), then runs the agent's `converge` as the
# deploy user, which installs every service and writes the health marker. Keys: lib/fleet/store-layout.ts.
# The local fleet (`portside local up --servers N`) runs this same script in a new server's network namespace,
# with its settings in PORTSIDE_DEFAULTS instead of /etc/default/portside; there PORTSIDE_STORE_ENDPOINT and
# PORTSIDE_STORE_ACCESS_KEY_ID/_SECRET_ACCESS_KEY (the names the agent's store client reads) stand in for the
# bucket's AWS URL and the instance role. Both unset on EC2.
set -euo pipefail
set -a
# shellcheck source=/dev/null
. "${PORTSIDE_DEFAULTS:-/etc/default/portside}"
set +a
: "${PORTSIDE_STORE_BUCKET:?no release store (PORTSIDE_STORE_BUCKET) in /etc/default/portside}"
: "${PORTSIDE_USER:?no deploy user (PORTSIDE_USER) in /etc/default/portside}"
REGION="${AWS_REGION:-${PORTSIDE_REGION:?no region (PORTSIDE_REGION) in /etc/default/portside}}"
field() { printf '%s' "$2" | node -e 'let s="";process.stdin.on("data",(c)=>s+=c).on("end",()=>{const v=JSON.parse(s)[process.argv[1]];process.stdout.write(v==null?"":String(v))})' "$1"; }
# The role's temporary credentials: an IMDSv2 token (PUT api/token), then iam/security-credentials/ names the
# role and iam/security-credentials/<role> gives AccessKeyId, SecretAccessKey and Token (AWS: "Retrieve
# security credentials from instance metadata", https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instance-metadata-security-credentials.html).
# PORTSIDE_IMDS_URL is for the unit test's stand-in only (test/unit/converge-hook.test.ts).
role_credentials() {
  local imds=${PORTSIDE_IMDS_URL:-http://169.254.169.254/latest} token role creds
  token=$(curl -sSf -X PUT "$imds/api/token" -H 'X-aws-ec2-metadata-token-ttl-seconds: 300')
  role=$(curl -sSf -H "X-aws-ec2-metadata-token: $token" "$imds/meta-data/iam/security-credentials/")
  creds=$(curl -sSf -H "X-aws-ec2-metadata-token: $token" "$imds/meta-data/iam/security-credentials/$role")
  KEY_ID=$(field AccessKeyId "$creds")
  SECRET=$(field SecretAccessKey "$creds")
  SESSION_TOKEN=$(field Token "$creds")
}
if [ -n "${PORTSIDE_STORE_ACCESS_KEY_ID:-}" ]; then
  KEY_ID=$PORTSIDE_STORE_ACCESS_KEY_ID
  SECRET=${PORTSIDE_STORE_SECRET_ACCESS_KEY:?PORTSIDE_STORE_ACCESS_KEY_ID is set without PORTSIDE_STORE_SECRET_ACCESS_KEY}
  SESSION_TOKEN=
else
  role_credentials
fi
# The bucket's virtual-hosted-style URL (https://docs.aws.amazon.com/AmazonS3/latest/userguide/VirtualHosting.html);
# a stand-in store's endpoint takes the bucket in the path.
if [ -n "${PORTSIDE_STORE_ENDPOINT:-}" ]; then
  STORE_URL="${PORTSIDE_STORE_ENDPOINT%/}/$PORTSIDE_STORE_BUCKET"
else
  STORE_URL="https://$PORTSIDE_STORE_BUCKET.s3.$REGION.amazonaws.com"
fi
# An object of the store into $2, signed by curl (SigV4); prints the HTTP status. Temporary credentials add
# their session token as X-Amz-Security-Token (AWS: "Authenticating Requests (AWS Signature Version 4)",
# https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-authenticating-requests.html). S3 requires
# x-amz-content-sha256 on every SigV4 request, the hash of the empty string for a request with no body
# (https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html); curl 7.88 does not add it
# (measured: it signs host;x-amz-date only; curl/curl#8810), and signs it when given (curl/curl#9804).
EMPTY_SHA256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
s3get() {
  local headers=(-H "x-amz-content-sha256: $EMPTY_SHA256")
  [ -z "$SESSION_TOKEN" ] || headers+=(-H "x-amz-security-token: $SESSION_TOKEN")
  curl -sS --aws-sigv4 "aws:amz:$REGION:s3" --user "$KEY_ID:$SECRET" "${headers[@]}" -o "$2" -w '%{http_code}' "$STORE_URL/$1"
}
# Healthy only once converged: a marker left from before a reboot must not let the load balancer in early.
rm -f "${PORTSIDE_CONVERGED_MARKER:?no PORTSIDE_CONVERGED_MARKER in /etc/default/portside}"
# Booting until this script ends (BOOTING_MARKER_FILE in lib/remote/layout.ts, beside the health marker): a
# rollout meanwhile leaves this server to its converge, which ends on the manifest current when it finishes.
BOOTING="$(dirname "$PORTSIDE_CONVERGED_MARKER")/portside-booting"
install -o "$PORTSIDE_USER" -m 0644 /dev/null "$BOOTING"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"; rm -f "$BOOTING"' EXIT
STATUS=$(s3get manifest/current.json "$WORK/manifest.json")
if [ "$STATUS" = 404 ]; then
  # Nothing deployed to the fleet yet: nothing to converge to. Healthy (the marker), as the seeded server is.
  echo "portside-converge: no manifest in s3://$PORTSIDE_STORE_BUCKET yet: nothing to run"
  install -o "$PORTSIDE_USER" -m 0644 /dev/null "$PORTSIDE_CONVERGED_MARKER"
  exit 0
fi
[ "$STATUS" = 200 ] || { echo "portside-converge: reading s3://$PORTSIDE_STORE_BUCKET/manifest/current.json answered HTTP $STATUS (the instance role must allow s3:GetObject and s3:ListBucket)" >&2; exit 1; }
AGENT=$(field agent "$(cat "$WORK/manifest.json")")
[[ "$AGENT" =~ ^[0-9a-f]{16}$ ]] || { echo "portside-converge: the manifest names no agent version (\"$AGENT\")" >&2; exit 1; }
STATUS=$(s3get "agent/$AGENT.tar.gz" "$WORK/agent.tar.gz")
[ "$STATUS" = 200 ] || { echo "portside-converge: the agent the manifest names (agent/$AGENT.tar.gz) answered HTTP $STATUS" >&2; exit 1; }
HOME_DIR=$(getent passwd "$PORTSIDE_USER" | cut -d: -f6)
BIN="$HOME_DIR/.portside/bin"
# As lib/deploy/agent-client.ts's ensureAgent lays it out: bin/<version>/*.js, and bin/preload.js for pm2.
install -d -o "$PORTSIDE_USER" -m 0755 "$HOME_DIR/.portside" "$BIN" "$BIN/$AGENT"
tar -xzf "$WORK/agent.tar.gz" -C "$BIN/$AGENT" --no-same-owner
cp "$BIN/$AGENT/preload.js" "$BIN/preload.js"
chown -R "$PORTSIDE_USER:" "$BIN"
printf '{"who":"boot@%s","boot":true}\n' "$(hostname)" | runuser -u "$PORTSIDE_USER" -- env HOME="$HOME_DIR" \
  PORTSIDE_STORE_BUCKET="$PORTSIDE_STORE_BUCKET" AWS_REGION="$REGION" PORTSIDE_PARAMETER_PREFIX="${PORTSIDE_PARAMETER_PREFIX:-}" \
  PORTSIDE_STORE_ENDPOINT="${PORTSIDE_STORE_ENDPOINT:-}" PORTSIDE_STORE_ACCESS_KEY_ID="${PORTSIDE_STORE_ACCESS_KEY_ID:-}" \
  PORTSIDE_STORE_SECRET_ACCESS_KEY="${PORTSIDE_STORE_SECRET_ACCESS_KEY:-}" \
  node "$BIN/$AGENT/agent.js" converge
