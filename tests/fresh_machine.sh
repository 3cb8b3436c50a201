#!/usr/bin/env bash
# How the README's "fresh machine" numbers are measured: a bare Debian bookworm root made by
# debootstrap (minbase + git, nothing else), the repository cloned alone into a path with a
# space in it, then ONE of the README's two commands as the first thing run there. Prints the
# wall time and what apt installed (packages and download size). Not part of the test suite:
# it downloads several hundred MB from the Debian mirror.
#
#   sudo bash tests/fresh_machine.sh demo|tests WORK_DIR [BASE_ROOT]
#
# BASE_ROOT: an existing debootstrap root to copy instead of making one (saves ~1 minute).
set -euo pipefail
what=$1 work=$2 base=${3:-}
case $what in
  demo) cmd="bash jobs/demo.sh" ;;
  tests) cmd="bash tests/run.sh" ;;
  *) echo "usage: $0 demo|tests WORK_DIR [BASE_ROOT]" >&2; exit 2 ;;
esac
[[ $(id -u) -eq 0 ]] || { echo "fresh_machine.sh: needs root (debootstrap, chroot, mounts)" >&2; exit 2; }
repo=$(cd "$(dirname "$0")/.." && pwd)
root=$work/root-$what
mkdir -p "$work"
rm -rf "$root"
if [[ -n $base ]]; then
  cp -a "$base" "$root"
else
  # debootstrap 1.0.128 (bookworm) resolves no dependencies when its target path has a space
  # (seen: libc6 missing, then "chroot ... /bin/true: No such file"): build where none is
  tmp=$(mktemp -d /tmp/bt-debootstrap.XXXXXX)
  debootstrap --variant=minbase --include=git,ca-certificates bookworm "$tmp/root" http://deb.debian.org/debian
  mv "$tmp/root" "$root"
  rmdir "$tmp"
fi
cp /etc/resolv.conf "$root/etc/resolv.conf"
git clone -q --no-hardlinks "$repo" "$root/opt/my work/bertology"

mounts=(proc sys dev dev/pts dev/shm)
cleanup() {
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do umount -l "$root/${mounts[i]}" 2>/dev/null || true; done
}
trap cleanup EXIT
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys"
mount --rbind /dev "$root/dev"
mount -t devpts devpts "$root/dev/pts" 2>/dev/null || true
mount -t tmpfs tmpfs "$root/dev/shm"

start=$(date +%s)
set +e
chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  LANG=C.UTF-8 ${OPENBLAS_CORETYPE:+OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE} \
  bash -c "cd '/opt/my work/bertology' && $cmd" >"$work/$what.log" 2>&1
rc=$?
set -e
secs=$(($(date +%s) - start))
echo "fresh_machine: '$cmd' exit $rc in $secs s (log: $work/$what.log)"
grep -E "newly installed|^Need to get" "$work/$what.log" | sed 's/^/fresh_machine: apt: /' || true
exit $rc
