#!/bin/bash
# pid 1 of the rehearsal's pid + mount + network namespaces (started by `unshare`), still seeing the host's /.
# Builds the throwaway machine: an overlay over / whose upper layer is a tmpfs inside this mount namespace,
# so every write the boot makes (/etc, /usr, /var, /home, /opt) vanishes with it; then chroots into it.
set -euo pipefail
T="$1"
mount --make-rprivate /
mount -t tmpfs -o size=2g,mode=0700 rehearsal "$T/ovl"
mkdir -p "$T/ovl/upper" "$T/ovl/work" "$T/ovl/root"
mount -t overlay rehearsal-root -o "lowerdir=/,upperdir=$T/ovl/upper,workdir=$T/ovl/work" "$T/ovl/root"
M="$T/ovl/root"
# A fresh instance has no Portside state: whatever this machine holds there (a test's leftovers) must
# not decide the boot. Removed in the overlay only (a whiteout in the upper layer; the host keeps it).
rm -rf "$M/var/lib/portside" "$M/var/log/portside-bootstrap.log"
mount -t proc proc "$M/proc"
mount --rbind /dev "$M/dev"
# A fresh /run and /tmp, as after a boot (and none of this machine's sockets or other people's files).
mount -t tmpfs -o mode=0755 run "$M/run"
mount -t tmpfs -o mode=1777 tmp "$M/tmp"
mkdir -p "$M/rehearsal"
mount --bind "$T/rec" "$M/rehearsal"
exec chroot "$M" /bin/bash /rehearsal/standins/inner.sh
