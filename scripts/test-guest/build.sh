#!/usr/bin/env bash
# Build the Moat test guest: a Debian cloud kernel and a busybox initramfs whose /init prints
# MOAT-GUEST-BOOTED on ttyS0 once acpid holds the input event devices, and powers off when the
# ACPI power button is pressed (QMP system_powerdown, `virsh shutdown`). After the marker a
# shell runs on ttyS0 (respawned when it exits), so `virsh console` tests can type into the guest.
#
# Usage: scripts/test-guest/build.sh [OUT_DIR]     (default: target/test-guest)
#
# OUT_DIR receives vmlinuz, initrd.cpio.gz and VERSION (the kernel and busybox package versions
# and the recipe number below). When those already exist for this recipe the script does
# nothing, so test suites call it every time and pay for the download once. The result is
# written to a temporary directory and renamed into place, so concurrent callers never see half
# a guest. Needs root only to install qemu-system-x86 when
# qemu-system-x86_64 is missing; the kernel and busybox are downloaded and unpacked, never
# installed. Recipe and measurements: ../shared/reference/test-guest.md.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${1:-$repo/target/test-guest}

die() { echo "test-guest: $*" >&2; exit 1; }

if ! command -v qemu-system-x86_64 >/dev/null 2>&1; then
    [ "$(id -u)" = 0 ] || die "qemu-system-x86_64 is missing and installing it needs root"
    echo "test-guest: installing qemu-system-x86" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends qemu-system-x86 >&2 \
        || { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive \
             apt-get install -y --no-install-recommends qemu-system-x86 >&2; } \
        || die "cannot install qemu-system-x86"
fi

# Bump when the guest's contents change, so that cached guests of an older recipe are rebuilt.
recipe="recipe 2"
built() {
    [ -s "$out/vmlinuz" ] && [ -s "$out/initrd.cpio.gz" ] && grep -qx "$recipe" "$out/VERSION" 2>/dev/null
}

if built; then
    exit 0
fi

resolve_kernel() {
    apt-cache depends linux-image-cloud-amd64 2>/dev/null \
        | awk '/Depends: linux-image-/{print $2; exit}'
}
kpkg=$(resolve_kernel)
if [ -z "$kpkg" ]; then
    apt-get update >&2 || die "apt-get update failed"
    kpkg=$(resolve_kernel)
fi
[ -n "$kpkg" ] || die "cannot resolve the package behind linux-image-cloud-amd64"

mkdir -p "$(dirname "$out")"
work=$(mktemp -d "$(dirname "$out")/.test-guest.XXXXXX")
trap 'rm -rf "$work"' EXIT
# apt downloads as the _apt user, which must be able to write here.
chmod 777 "$work"
cd "$work"

download() {
    apt-get download "$kpkg" busybox-static >/dev/null 2>download.log
}
if ! download; then
    # Stale package lists name a kernel that has left the archive: refresh, resolve again.
    apt-get update >&2 || die "apt-get update failed"
    kpkg=$(resolve_kernel)
    [ -n "$kpkg" ] || die "cannot resolve the package behind linux-image-cloud-amd64"
    download || die "apt-get download $kpkg busybox-static failed: $(cat download.log)"
fi

mkdir k bb root
modules=(evdev button failover net_failover virtio_ring virtio virtio_pci_legacy_dev
         virtio_pci_modern_dev virtio_pci virtio_net)
patterns=('./boot/vmlinuz-*')
for m in "${modules[@]}"; do patterns+=("./lib/modules/*/$m.ko"); done
# GNU tar's wildcards match '/' here, so each pattern finds its module at any depth.
dpkg-deb --fsys-tarfile "$kpkg"_*.deb | tar -x -C k --wildcards "${patterns[@]}" \
    || die "cannot unpack $kpkg"
dpkg-deb --fsys-tarfile busybox-static_*.deb | tar -x -C bb ./bin/busybox

vmlinuz=$(ls k/boot/vmlinuz-* 2>/dev/null | head -n1)
[ -n "$vmlinuz" ] || die "no vmlinuz in $kpkg"

mkdir -p root/bin root/proc root/sys root/dev root/tmp root/lib/modules root/etc/acpi/PWRF
cp bb/bin/busybox root/bin/busybox
for applet in $(root/bin/busybox --list); do
    [ "$applet" = busybox ] || ln -sf busybox "root/bin/$applet"
done
ln -s bin root/sbin
for m in "${modules[@]}"; do
    ko=$(find k/lib/modules -name "$m.ko" | head -n1)
    [ -n "$ko" ] || die "module $m.ko not found in $kpkg"
    cp "$ko" root/lib/modules/
done

cat > root/init <<'EOF'
#!/bin/sh
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in evdev button failover net_failover virtio_ring virtio virtio_pci_legacy_dev \
         virtio_pci_modern_dev virtio_pci virtio_net; do
    insmod /lib/modules/$m.ko 2>/dev/null
done
acpid -d -c /etc/acpi &
APID=$!
# A power-button press before acpid holds the event devices is lost, so the marker waits.
i=0
while [ $i -lt 2000 ] && ! ls -l /proc/$APID/fd 2>/dev/null | grep -q /dev/input/event; do
    usleep 1000
    i=$((i+1))
done
echo MOAT-GUEST-BOOTED
if [ -e /sys/class/net/eth0 ]; then
    ip link set lo up
    (udhcpc -i eth0 -s /etc/udhcpc.script -q -n -t 5 -T 1 >/dev/null 2>&1 \
        && echo "MOAT-GUEST-NET $(ip -4 -o addr show dev eth0 | awk '{print $4}')") &
fi
# A shell on the serial console (the controlling tty cttyhack finds), respawned when it exits.
(while :; do setsid cttyhack sh -i; sleep 1; done) &
while :; do sleep 3600; done
EOF

cat > root/etc/acpi/PWRF/00000080 <<'EOF'
#!/bin/sh
echo MOAT-GUEST-POWEROFF
poweroff -f
EOF

cat > root/etc/udhcpc.script <<'EOF'
#!/bin/sh
case "$1" in
    deconfig)
        ip -4 addr flush dev "$interface"
        ip link set "$interface" up
        ;;
    bound|renew)
        ip addr add "$ip/${mask:-24}" dev "$interface"
        [ -n "$router" ] && ip route add default via "${router%% *}"
        ;;
esac
exit 0
EOF
chmod 0755 root/init root/etc/acpi/PWRF/00000080 root/etc/udhcpc.script

mkdir result
(cd root && find . | ./bin/busybox cpio -o -H newc 2>/dev/null | gzip -9) > result/initrd.cpio.gz
cp "$vmlinuz" result/vmlinuz
{
    echo "kernel $(dpkg-deb -f "$kpkg"_*.deb Package) $(dpkg-deb -f "$kpkg"_*.deb Version)"
    echo "busybox $(dpkg-deb -f busybox-static_*.deb Version)"
    echo "$recipe"
} > result/VERSION

if built; then
    exit 0   # a concurrent build finished first
fi
rm -rf "$out"   # an incomplete leftover
mv -T result "$out" 2>/dev/null || built || die "cannot move the guest to $out"
echo "test-guest: built $out ($(tr '\n' ' ' < "$out/VERSION"))" >&2
