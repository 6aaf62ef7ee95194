#!/bin/bash
# pid 1 inside the rehearsal's overlay: stands up what AWS and the Ubuntu image provide, runs the UserData
# the way cloud-init does, waits for the boot, rehearses cfn-hup's timer, then copies out what the report needs.
# When this script exits the pid namespace ends, and the kernel ends every process left in it.
set -uo pipefail
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8
R=/rehearsal
S=$R/standins
cfg() { /usr/bin/python3 -c 'import json, sys; v = json.load(open(sys.argv[1])).get(sys.argv[2]); print("" if v is None else v)' "$R/config.json" "$1"; }
mark() { printf '%s %s\n' "$(date +%s.%N)" "$*" >>"$R/phases.log"; }
readlink /proc/self/ns/pid >"$R/pidns"
mark start

# The network: this instance at 10.0.0.10; AWS (IMDS at 169.254.169.254, S3, the package repositories' hosts)
# in a namespace of its own behind a veth, so nothing of AWS's occupies the instance's ports.
ip link set lo up
unshare --net /usr/bin/python3 "$S/servers.py" "$R/tls.crt" "$R/tls.key" 10.0.0.10 >>"$R/servers.log" 2>&1 &
aws=$!
for _ in $(seq 1 100); do [ -e "/proc/$aws/ns/net" ] && [ "$(readlink /proc/$aws/ns/net)" != "$(readlink /proc/self/ns/net)" ] && break; /usr/bin/sleep 0.01; done
ip link add eth0 type veth peer name aws0 netns "$aws"
ip addr add 10.0.0.10/24 dev eth0
ip link set eth0 up
ip route add default via 10.0.0.1
nsenter --net="/proc/$aws/ns/net" sh -c 'ip link set lo up && ip addr add 10.0.0.1/24 dev aws0 && ip addr add 169.254.169.254/32 dev aws0 && ip link set aws0 up'
for _ in $(seq 1 200); do [ -e "$R/servers.ready" ] && break; /usr/bin/sleep 0.02; done
printf '10.0.0.1 deb.nodesource.com cloudformation-waitcondition-us-east-1.s3.amazonaws.com\n' >>/etc/hosts
cat "$R/tls.crt" >>/etc/ssl/certs/ca-certificates.crt
# IMDSv2 as the stack requires it (HttpTokens=required): a GET without a token is refused.
curl -s -o /dev/null -w '%{http_code}' --max-time 2 http://169.254.169.254/latest/meta-data/instance-id >"$R/imds-without-token"

# The stand-ins, first on every PATH a boot uses (systemd's default PATH starts with /usr/local).
for t in apt-get apt cloud-init ufw sleep python3 systemctl systemd-run; do ln -sfn "$S/fake.py" "/usr/local/bin/$t"; done
# The image's login user, as cloud-init makes it before user data runs.
id ubuntu >/dev/null 2>&1 || useradd --create-home --shell /bin/bash ubuntu
mark ready

# cloud-init's final stage runs a user-data script once, from this path, output to cloud-init-output.log
# (https://docs.cloud-init.io/en/latest/explanation/format.html#user-data-script).
install -d -m 0700 /var/lib/cloud/instance/scripts
install -m 0700 "$R/user-data" /var/lib/cloud/instance/scripts/part-001
env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
  /var/lib/cloud/instance/scripts/part-001 >>/var/log/cloud-init-output.log 2>&1
echo $? >"$R/user-data.exit"
mark user-data-exited
boot_timeout="$(cfg bootTimeoutSeconds)"
if [ -e /run/rehearsal-systemd/portside-boot.service.pid ]; then
  for _ in $(seq 1 $((boot_timeout * 20))); do
    [ -e /run/rehearsal-systemd/portside-boot.service.exit ] && break
    /usr/bin/sleep 0.05
  done
  cp /run/rehearsal-systemd/portside-boot.service.exit "$R/boot.exit" 2>/dev/null || echo timeout >"$R/boot.exit"
fi
mark boot-exited
ps -eo pid=,args= >"$R/ps-after-boot.txt"

# cfn-hup, as its timer starts it: the oneshot service, three times; the declared config changes between the
# first and the second (optionally with the bootstrap's first metadata fetch failing).
if [ "$(cfg update)" = True ] && grep -q '"status": "SUCCESS"' "$R/signals.jsonl" 2>/dev/null; then
  hup() {
    local start code
    start=$(date +%s.%N)
    systemctl start cfn-hup.service; code=$?
    printf '{"run": %s, "exit": %s, "seconds": %s, "activeAfter": %s}\n' "$1" "$code" \
      "$(printf %.3f "$(echo "$(date +%s.%N) - $start" | bc)")" "$(pgrep -f 'cfn-hup --no-daemon' >/dev/null && echo true || echo false)" >>"$R/cfn-hup.jsonl"
  }
  hup 1
  cp "$R/stack-updated.json" "$R/stack.json"
  cp "$R/faults-update.json" "$R/faults.json"
  hup 2
  hup 3
  systemctl is-active --quiet caddy && echo true >"$R/caddy-after-update" || echo false >"$R/caddy-after-update"
fi
mark update-done

mkdir -p "$R/out"
cp -a /var/log/portside-bootstrap.log /var/log/cloud-init-output.log "$R/out/" 2>/dev/null
[ -d /etc/portside ] && cp -a /etc/portside "$R/out/etc-portside"
[ -d /etc/cfn ] && cp -a /etc/cfn "$R/out/etc-cfn"
find /etc/systemd/system -newer "$R/config.json" \( -type f -o -type l \) >"$R/out/systemd-units.txt" 2>/dev/null
ps -eo pid=,args= >"$R/ps-at-end.txt"
mark end
exit 0
