//! Golden command lines for a few domains, and the refusals.

use std::path::Path;

use domxml::{parse, ParseOptions};

use super::*;

fn paths() -> RuntimePaths {
    RuntimePaths::for_guest(Path::new("/run/moat"), Path::new("/var/lib/moat"), "g1").unwrap()
}

fn host() -> HostFacts {
    HostFacts {
        kvm: Kvm::Usable,
        sandbox: Sandbox::Supported,
        start: StartMode::Running,
    }
}

fn build_xml(xml: &str, host: &HostFacts) -> Result<QemuArgv, ArgvError> {
    let domain = parse(xml, &ParseOptions::default()).unwrap();
    build(&domain, host, &paths())
}

/// One argument per line, options with their values on one line, for readable goldens.
fn golden(argv: &QemuArgv) -> String {
    let mut out = String::new();
    for arg in &argv.args {
        if arg.starts_with('-') && !out.is_empty() {
            out.push('\n');
        } else if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(arg);
    }
    out.push('\n');
    out
}

fn assert_golden(argv: &QemuArgv, expected: &str) {
    let actual = golden(argv);
    assert!(
        actual == expected,
        "golden mismatch\n--- actual ---\n{actual}--- expected ---\n{expected}"
    );
}

fn refusals(xml: &str) -> Vec<String> {
    match build_xml(xml, &host()) {
        Ok(argv) => panic!("expected refusals, got {argv}"),
        Err(ArgvError::Refused { refusals, .. }) => {
            refusals.iter().map(ToString::to_string).collect()
        }
    }
}

const TEST_GUEST: &str = "<domain type='qemu'>
  <name>g1</name>
  <uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>
  <memory unit='MiB'>256</memory>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>/srv/guest/vmlinuz</kernel>
    <initrd>/srv/guest/initrd.cpio.gz</initrd>
    <cmdline>console=ttyS0 quiet panic=-1</cmdline>
  </os>
  <features><acpi/></features>
  <on_reboot>destroy</on_reboot>
  <devices>
    <serial type='file'>
      <source path='/var/lib/moat/qemu/g1.serial'/>
      <target port='0'/>
    </serial>
    <console type='file'>
      <source path='/var/lib/moat/qemu/g1.serial'/>
      <target type='serial' port='0'/>
    </console>
    <memballoon model='none'/>
  </devices>
</domain>";

#[test]
fn golden_test_guest_direct_kernel_boot_under_tcg() {
    let argv = build_xml(TEST_GUEST, &host()).unwrap();
    assert_eq!(argv.accel, Accel::Tcg);
    assert_eq!(argv.program, Path::new(DEFAULT_EMULATOR));
    assert!(argv.tap_interfaces.is_empty());
    assert_golden(
        &argv,
        "\
-name guest=g1,debug-threads=on
-uuid c7a5fdbd-edaf-9455-926a-d65c16db1809
-nodefaults
-no-user-config
-msg timestamp=on
-sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny
-machine pc,usb=off,dump-guest-core=off
-accel tcg
-m size=262144k
-smp 1
-kernel /srv/guest/vmlinuz
-initrd /srv/guest/initrd.cpio.gz
-append console=ttyS0 quiet panic=-1
-no-reboot
-chardev socket,id=charmonitor,path=/run/moat/qemu/g1/qmp.sock,server=on,wait=off
-mon chardev=charmonitor,id=monitor,mode=control
-chardev file,id=charserial0,path=/var/lib/moat/qemu/g1.serial
-device isa-serial,chardev=charserial0,id=serial0,index=0
-display none
",
    );
}

#[test]
fn golden_kvm_server_with_disks_nic_and_vnc() {
    let xml = "<domain type='kvm'>
  <name>web,1</name>
  <uuid>00000000-0000-0000-0000-000000000001</uuid>
  <memory unit='GiB'>2</memory>
  <vcpu current='2'>4</vcpu>
  <os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os>
  <features><acpi/><apic/><vmport state='off'/></features>
  <cpu mode='host-passthrough' check='none' migratable='on'>
    <topology sockets='1' cores='2' threads='2'/>
  </cpu>
  <clock offset='utc'/>
  <on_poweroff>preserve</on_poweroff>
  <devices>
    <emulator>/usr/local/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2' cache='none' io='native' discard='unmap'/>
      <source file='/var/lib/moat/images/web,1.qcow2'/>
      <backingStore type='file'>
        <format type='raw'/>
        <source file='/var/lib/moat/images/base.raw'/>
      </backingStore>
      <target dev='vda' bus='virtio'/>
      <boot order='1'/>
      <serial>WEB-1</serial>
    </disk>
    <disk type='block' device='disk'>
      <driver name='qemu' type='raw' cache='writethrough'/>
      <source dev='/dev/vg0/data'/>
      <target dev='sda' bus='sata'/>
      <shareable/>
    </disk>
    <disk type='file' device='cdrom'>
      <driver name='qemu' type='raw'/>
      <source file='/srv/iso/install.iso'/>
      <target dev='sdb' bus='sata'/>
      <readonly/>
      <boot order='2'/>
    </disk>
    <controller type='pci' index='0' model='pcie-root'/>
    <controller type='sata' index='0'/>
    <controller type='usb' index='0' model='none'/>
    <interface type='bridge'>
      <mac address='52:54:00:12:34:56'/>
      <source bridge='br0'/>
      <model type='virtio'/>
      <mtu size='9000'/>
    </interface>
    <interface type='user'>
      <model type='e1000e'/>
    </interface>
    <serial type='pty'><target port='0'/></serial>
    <console type='pty'><target type='serial' port='0'/></console>
    <input type='mouse' bus='ps2'/>
    <input type='keyboard' bus='ps2'/>
    <input type='tablet' bus='virtio'/>
    <graphics type='vnc' autoport='yes'><listen type='address' address='127.0.0.1'/></graphics>
    <video><model type='vga' vram='16384' heads='1' primary='yes'/></video>
    <memballoon model='virtio'/>
    <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>
  </devices>
</domain>";
    let host = HostFacts {
        start: StartMode::Paused,
        ..host()
    };
    let argv = build_xml(xml, &host).unwrap();
    assert_eq!(argv.accel, Accel::Kvm);
    assert_eq!(argv.program, Path::new("/usr/local/bin/qemu-system-x86_64"));
    assert_eq!(argv.tap_interfaces, vec![0]);
    assert_golden(
        &argv,
        "\
-name guest=web,,1,debug-threads=on
-uuid 00000000-0000-0000-0000-000000000001
-nodefaults
-no-user-config
-msg timestamp=on
-sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny
-machine pc-q35-7.2,usb=off,dump-guest-core=off,vmport=off
-accel kvm
-cpu host,migratable=on
-m size=2097152k
-smp 2,maxcpus=4,sockets=1,cores=2,threads=2
-rtc base=utc
-boot strict=on
-no-shutdown
-S
-chardev socket,id=charmonitor,path=/run/moat/qemu/g1/qmp.sock,server=on,wait=off
-mon chardev=charmonitor,id=monitor,mode=control
-blockdev {\"aio\":\"native\",\"auto-read-only\":true,\"cache\":{\"direct\":true,\"no-flush\":false},\"discard\":\"unmap\",\"driver\":\"file\",\"filename\":\"/var/lib/moat/images/base.raw\",\"node-name\":\"drive-vda-b1-file\",\"read-only\":true}
-blockdev {\"cache\":{\"direct\":true,\"no-flush\":false},\"discard\":\"unmap\",\"driver\":\"raw\",\"file\":\"drive-vda-b1-file\",\"node-name\":\"drive-vda-b1\",\"read-only\":true}
-blockdev {\"aio\":\"native\",\"auto-read-only\":true,\"cache\":{\"direct\":true,\"no-flush\":false},\"discard\":\"unmap\",\"driver\":\"file\",\"filename\":\"/var/lib/moat/images/web,1.qcow2\",\"node-name\":\"drive-vda-file\",\"read-only\":false}
-blockdev {\"backing\":\"drive-vda-b1\",\"cache\":{\"direct\":true,\"no-flush\":false},\"discard\":\"unmap\",\"driver\":\"qcow2\",\"file\":\"drive-vda-file\",\"node-name\":\"drive-vda\",\"read-only\":false}
-device virtio-blk-pci,id=disk-vda,drive=drive-vda,write-cache=on,serial=WEB-1,bootindex=1
-blockdev {\"auto-read-only\":true,\"cache\":{\"direct\":false,\"no-flush\":false},\"driver\":\"host_device\",\"filename\":\"/dev/vg0/data\",\"node-name\":\"drive-sda-file\",\"read-only\":false}
-blockdev {\"cache\":{\"direct\":false,\"no-flush\":false},\"driver\":\"raw\",\"file\":\"drive-sda-file\",\"node-name\":\"drive-sda\",\"read-only\":false}
-device ide-hd,id=disk-sda,bus=ide.0,unit=0,drive=drive-sda,write-cache=off,share-rw=on
-blockdev {\"auto-read-only\":true,\"driver\":\"file\",\"filename\":\"/srv/iso/install.iso\",\"node-name\":\"drive-sdb-file\",\"read-only\":true}
-blockdev {\"driver\":\"raw\",\"file\":\"drive-sdb-file\",\"node-name\":\"drive-sdb\",\"read-only\":true}
-device ide-cd,id=disk-sdb,bus=ide.1,unit=0,drive=drive-sdb,bootindex=2
-netdev tap,id=hostnet0,fd=3
-device virtio-net-pci,netdev=hostnet0,id=net0,mac=52:54:00:12:34:56,host_mtu=9000
-netdev user,id=hostnet1
-device e1000e,netdev=hostnet1,id=net1
-chardev socket,id=charserial0,path=/run/moat/qemu/g1/console-serial0.sock,server=on,wait=off
-device isa-serial,chardev=charserial0,id=serial0,index=0
-device virtio-tablet-pci,id=input2
-display none
-vnc 127.0.0.1:0,to=99
-device VGA,id=video0,vgamem_mb=16
-device virtio-balloon-pci,id=balloon0
-object rng-random,id=objrng0,filename=/dev/urandom
-device virtio-rng-pci,rng=objrng0,id=rng0
",
    );
}

#[test]
fn kvm_domain_falls_back_to_tcg_without_kvm() {
    let xml = TEST_GUEST.replace("type='qemu'", "type='kvm'");
    let usable = build_xml(&xml, &host()).unwrap();
    assert_eq!(usable.accel, Accel::Kvm);
    assert!(golden(&usable).contains("\n-accel kvm\n"));
    let host = HostFacts {
        kvm: Kvm::Unavailable,
        sandbox: Sandbox::Unsupported,
        start: StartMode::Running,
    };
    let fallback = build_xml(&xml, &host).unwrap();
    assert_eq!(fallback.accel, Accel::Tcg);
    let text = golden(&fallback);
    assert!(text.contains("\n-accel tcg\n"), "{text}");
    assert!(!text.contains("-sandbox"), "{text}");
}

#[test]
fn golden_scsi_ide_vnc_socket_and_tap_order() {
    let xml = "<domain type='qemu'>
  <name>legacy</name>
  <uuid>00000000-0000-0000-0000-000000000002</uuid>
  <memory unit='MiB'>512</memory>
  <os><type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type><boot dev='cdrom'/><boot dev='hd'/></os>
  <features><acpi/></features>
  <clock offset='localtime'/>
  <on_poweroff>restart</on_poweroff>
  <on_crash>preserve</on_crash>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw' cache='unsafe' detect_zeroes='on'/>
      <source file='/img/a.raw'/>
      <target dev='hda' bus='ide'/>
    </disk>
    <disk type='file' device='cdrom'>
      <target dev='hdc' bus='ide'/>
      <readonly/>
    </disk>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2' io='threads'/>
      <source file='/img/b.qcow2'/>
      <target dev='sdb' bus='scsi'/>
    </disk>
    <controller type='ide' index='0'/>
    <controller type='usb' index='0' model='piix3-uhci'/>
    <interface type='network'><source network='default'/><model type='virtio'/></interface>
    <interface type='user'><model type='virtio'/></interface>
    <interface type='ethernet'><target dev='tap7'/><model type='rtl8139'/></interface>
    <serial type='unix'><source mode='bind' path='/run/moat/g.console'/></serial>
    <serial type='null'/>
    <graphics type='vnc'><listen type='socket'/></graphics>
    <video><model type='cirrus'/></video>
  </devices>
</domain>";
    let argv = build_xml(xml, &host()).unwrap();
    assert_eq!(argv.tap_interfaces, vec![0, 2]);
    assert_golden(
        &argv,
        "\
-name guest=legacy,debug-threads=on
-uuid 00000000-0000-0000-0000-000000000002
-nodefaults
-no-user-config
-msg timestamp=on
-sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny
-machine pc-i440fx-7.2,usb=off,dump-guest-core=off
-accel tcg
-m size=524288k
-smp 1
-rtc base=localtime
-boot order=dc
-no-shutdown
-action panic=pause
-chardev socket,id=charmonitor,path=/run/moat/qemu/g1/qmp.sock,server=on,wait=off
-mon chardev=charmonitor,id=monitor,mode=control
-device piix3-usb-uhci,id=usb
-device virtio-scsi-pci,id=scsi0
-blockdev {\"auto-read-only\":true,\"cache\":{\"direct\":false,\"no-flush\":true},\"driver\":\"file\",\"filename\":\"/img/a.raw\",\"node-name\":\"drive-hda-file\",\"read-only\":false}
-blockdev {\"cache\":{\"direct\":false,\"no-flush\":true},\"detect-zeroes\":\"on\",\"driver\":\"raw\",\"file\":\"drive-hda-file\",\"node-name\":\"drive-hda\",\"read-only\":false}
-device ide-hd,id=disk-hda,bus=ide.0,unit=0,drive=drive-hda,write-cache=on
-device ide-cd,id=disk-hdc,bus=ide.1,unit=0
-blockdev {\"aio\":\"threads\",\"auto-read-only\":true,\"driver\":\"file\",\"filename\":\"/img/b.qcow2\",\"node-name\":\"drive-sdb-file\",\"read-only\":false}
-blockdev {\"backing\":null,\"driver\":\"qcow2\",\"file\":\"drive-sdb-file\",\"node-name\":\"drive-sdb\",\"read-only\":false}
-device scsi-hd,id=disk-sdb,bus=scsi0.0,channel=0,scsi-id=0,lun=1,drive=drive-sdb
-netdev tap,id=hostnet0,fd=3
-device virtio-net-pci,netdev=hostnet0,id=net0
-netdev user,id=hostnet1
-device virtio-net-pci,netdev=hostnet1,id=net1
-netdev tap,id=hostnet2,fd=4
-device rtl8139,netdev=hostnet2,id=net2
-chardev socket,id=charserial0,path=/run/moat/g.console,server=on,wait=off
-device isa-serial,chardev=charserial0,id=serial0,index=0
-chardev null,id=charserial1
-device isa-serial,chardev=charserial1,id=serial1,index=1
-display none
-vnc unix:/run/moat/qemu/g1/vnc.sock
-device cirrus-vga,id=video0
",
    );
}

#[test]
fn golden_virt_install_style_guest_with_agent_channel_and_timers() {
    let xml = "<domain type='kvm'>
  <name>desk</name>
  <uuid>00000000-0000-0000-0000-000000000003</uuid>
  <memory unit='GiB'>1</memory>
  <os><type arch='x86_64' machine='q35'>hvm</type><boot dev='hd'/></os>
  <features><acpi/><apic/></features>
  <pm>
    <suspend-to-mem enabled='no'/>
    <suspend-to-disk enabled=\"no\"/>
  </pm>
  <cpu mode='maximum'/>
  <clock offset='utc'>
    <timer name='rtc' tickpolicy='catchup'/>
    <timer name='pit' tickpolicy='delay'/>
    <timer name='hpet' present='no'/>
  </clock>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2' discard='unmap'/>
      <source file='/var/lib/moat/images/desk.qcow2'/>
      <target dev='vda' bus='virtio'/>
      <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>
    </disk>
    <controller type='usb' index='0' model='qemu-xhci' ports='15'>
      <address type='pci' domain='0x0000' bus='0x02' slot='0x00' function='0x0'/>
    </controller>
    <controller type='pci' index='1' model='pcie-root-port'>
      <model name='pcie-root-port'/>
      <target chassis='1' port='0x10'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0' multifunction='on'/>
    </controller>
    <controller type='pci' index='2' model='pcie-root-port'>
      <model name='pcie-root-port'/>
      <target chassis='2' port='0x11'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x1'/>
    </controller>
    <controller type='sata' index='0'>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x1f' function='0x2'/>
    </controller>
    <interface type='user'><mac address='52:54:00:aa:bb:cc'/><model type='virtio'/></interface>
    <channel type='unix'>
      <source mode='bind' path='/run/moat/qemu/desk/ga.sock'/>
      <target type='virtio' name='org.qemu.guest_agent.0'/>
    </channel>
    <channel type='unix'>
      <target type='virtio' name='org.example.agent.1'/>
    </channel>
    <input type='tablet' bus='usb'><address type='usb' bus='0' port='1'/></input>
    <graphics type='vnc' port='5905' autoport='no'/>
    <video><model type='virtio' heads='1'/></video>
  </devices>
</domain>";
    let argv = build_xml(xml, &host()).unwrap();
    assert_golden(
        &argv,
        "\
-name guest=desk,debug-threads=on
-uuid 00000000-0000-0000-0000-000000000003
-nodefaults
-no-user-config
-msg timestamp=on
-sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny
-machine q35,usb=off,dump-guest-core=off,hpet=off
-accel kvm
-global ICH9-LPC.disable_s3=1
-global ICH9-LPC.disable_s4=1
-cpu max
-m size=1048576k
-smp 1
-global kvm-pit.lost_tick_policy=delay
-rtc base=utc,driftfix=slew
-boot order=c
-chardev socket,id=charmonitor,path=/run/moat/qemu/g1/qmp.sock,server=on,wait=off
-mon chardev=charmonitor,id=monitor,mode=control
-device pcie-root-port,port=16,chassis=1,id=pci.1,bus=pcie.0,addr=0x2,multifunction=on
-device pcie-root-port,port=17,chassis=2,id=pci.2,bus=pcie.0,addr=0x2.0x1
-device qemu-xhci,id=usb,p2=15,p3=15,bus=pci.2,addr=0x0
-device virtio-serial-pci,id=virtio-serial0
-blockdev {\"auto-read-only\":true,\"discard\":\"unmap\",\"driver\":\"file\",\"filename\":\"/var/lib/moat/images/desk.qcow2\",\"node-name\":\"drive-vda-file\",\"read-only\":false}
-blockdev {\"backing\":null,\"discard\":\"unmap\",\"driver\":\"qcow2\",\"file\":\"drive-vda-file\",\"node-name\":\"drive-vda\",\"read-only\":false}
-device virtio-blk-pci,id=disk-vda,bus=pci.1,addr=0x0,drive=drive-vda
-netdev user,id=hostnet0
-device virtio-net-pci,netdev=hostnet0,id=net0,mac=52:54:00:aa:bb:cc
-chardev socket,id=charchannel0,path=/run/moat/qemu/desk/ga.sock,server=on,wait=off
-device virtserialport,bus=virtio-serial0.0,nr=1,chardev=charchannel0,id=channel0,name=org.qemu.guest_agent.0
-chardev socket,id=charchannel1,path=/run/moat/qemu/g1/org.example.agent.1.sock,server=on,wait=off
-device virtserialport,bus=virtio-serial0.0,nr=2,chardev=charchannel1,id=channel1,name=org.example.agent.1
-device usb-tablet,id=input0,bus=usb.0,port=1
-display none
-vnc 127.0.0.1:5
-device virtio-vga,id=video0
",
    );
}

#[test]
fn everything_unsupported_is_refused_by_name() {
    let xml = "<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>bad</name>
  <memory unit='MiB'>256</memory>
  <currentMemory unit='MiB'>128</currentMemory>
  <vcpu placement='auto'>2</vcpu>
  <os firmware='efi'><type arch='aarch64' machine='virt'>hvm</type></os>
  <cpu mode='host-model'/>
  <clock offset='variable' adjustment='10'><timer name='kvmclock' present='no'/></clock>
  <on_poweroff>rename-restart</on_poweroff>
  <devices>
    <disk type='network' device='disk'>
      <source protocol='nbd' name='x'><host name='h' port='1'/></source>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='floppy'>
      <source file='/f.img'/>
      <target dev='fda' bus='fdc'/>
    </disk>
    <disk type='file' device='disk'>
      <driver name='qemu' type='vmdk' io='native'/>
      <source file='/x.vmdk'/>
      <target dev='vdb' bus='usb'/>
    </disk>
    <interface type='direct'><source dev='eth0' mode='bridge'/></interface>
    <interface type='user'><model type='ne2k_pci'/><link state='down'/></interface>
    <serial type='tcp'><source mode='bind' host='0.0.0.0' service='4444'/></serial>
    <channel type='spicevmc'><target type='virtio' name='com.redhat.spice.0'/></channel>
    <input type='tablet' bus='usb'/>
    <graphics type='vnc' port='5901' passwd='x'><listen type='address' address='0.0.0.0'/></graphics>
    <graphics type='spice'/>
    <video><model type='qxl'/></video>
    <hostdev mode='subsystem' type='pci'><source><address domain='0' bus='1' slot='0' function='0'/></source></hostdev>
    <tpm model='tpm-crb'><backend type='emulator' version='2.0'/></tpm>
    <watchdog model='i6300esb'/>
    <controller type='scsi' index='0' model='lsilogic'/>
    <controller type='ide' index='0'><address type='pci' domain='0' bus='0' slot='2' function='0'/></controller>
  </devices>
  <qemu:commandline><qemu:arg value='-evil'/></qemu:commandline>
</domain>";
    let refused = refusals(xml);
    let text = refused.join("\n");
    for needle in [
        "<domain>/<commandline>: unknown element",
        "<domain>/@xmlns:*",
        "<currentMemory>",
        "<vcpu placement>",
        "<os>/<type arch>: architecture 'aarch64'",
        "<os>/<type machine>: machine type 'virt'",
        "<os>/<loader>",
        "<cpu mode>: host-model",
        "<clock offset>: offset 'variable'",
        "<clock>/<timer name='kvmclock'>: this timer setting is not supported yet",
        "<on_poweroff>: 'rename-restart'",
        "<disk target='vda'>/<source>: disk type 'network'",
        "<disk target='fda'> device: device 'floppy'",
        "<disk target='vdb'>/<target bus>: bus 'usb'",
        "<disk target='vdb'>/<driver io>",
        "<interface type='direct'> 0: macvtap",
        "<interface type='user'> 1/<link>",
        "<interface type='user'> 1/<model>: NIC model 'ne2k_pci'",
        "<serial> 0: chardev type 'tcp'",
        "<channel> 0: chardev type 'spicevmc' is not supported yet",
        "<input type='tablet'> 0: a USB input needs a USB controller",
        "<graphics type='vnc'> passwd",
        "<graphics type='vnc'>/<listen address>: VNC without TLS or password may only listen on localhost, not '0.0.0.0'",
        "<graphics>: only one graphics console",
        "<video type='qxl'>",
        "<hostdev>",
        "<tpm>",
        "<watchdog>",
        "<controller type='scsi' index='0'>",
        "<controller type='ide' index='0'>/<address>: built-in controllers cannot be moved",
    ] {
        assert!(text.contains(needle), "missing refusal '{needle}' in:\n{text}");
    }
}

#[test]
fn refusal_error_names_the_domain_and_each_element() {
    let xml = TEST_GUEST.replace("<memballoon model='none'/>", "<sound model='ich9'/>");
    let err = build_xml(&xml, &host()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot start domain 'g1': <sound>: not supported yet"
    );
}

#[test]
fn lifecycle_actions_map_to_no_shutdown_and_no_reboot() {
    let base = TEST_GUEST.replace("<on_reboot>destroy</on_reboot>", "");
    let default = golden(&build_xml(&base, &host()).unwrap());
    assert!(!default.contains("-no-shutdown") && !default.contains("-no-reboot"));
    let preserve = base.replace("<devices>", "<on_poweroff>preserve</on_poweroff><devices>");
    assert!(golden(&build_xml(&preserve, &host()).unwrap()).contains("\n-no-shutdown\n"));
    let paused = HostFacts {
        start: StartMode::Paused,
        ..host()
    };
    assert!(golden(&build_xml(&base, &paused).unwrap()).contains("\n-S\n"));
    let restart = base.replace("<devices>", "<on_crash>restart</on_crash><devices>");
    assert!(golden(&build_xml(&restart, &host()).unwrap()).contains("\n-action panic=none\n"));
}

#[test]
fn missing_acpi_feature_turns_acpi_off() {
    let xml = TEST_GUEST.replace("<features><acpi/></features>", "");
    let text = golden(&build_xml(&xml, &host()).unwrap());
    assert!(
        text.contains("-machine pc,usb=off,dump-guest-core=off,acpi=off\n"),
        "{text}"
    );
}

#[test]
fn display_quotes_arguments_with_spaces() {
    let argv = build_xml(TEST_GUEST, &host()).unwrap();
    let line = argv.to_string();
    assert!(line.starts_with("/usr/bin/qemu-system-x86_64 -name guest=g1,debug-threads=on "));
    assert!(
        line.contains(" -append 'console=ttyS0 quiet panic=-1' "),
        "{line}"
    );
}

#[test]
fn pm_accepts_only_the_two_suspend_states() {
    assert_eq!(
        pm_states("<pm><suspend-to-mem enabled='yes'/><suspend-to-disk enabled='no'/></pm>"),
        Some(vec![("s3", true), ("s4", false)])
    );
    assert_eq!(pm_states("<pm/>"), None);
    assert_eq!(pm_states("<pm></pm>"), Some(vec![]));
    for bad in [
        "<pm><suspend-to-mem enabled='maybe'/></pm>",
        "<pm><suspend-to-mem/></pm>",
        "<pm><suspend-to-mem enabled='no' x='1'/></pm>",
        "<pm><suspend-to-mem enabled='no'/><suspend-to-mem enabled='yes'/></pm>",
        "<pm><other/></pm>",
    ] {
        assert_eq!(pm_states(bad), None, "{bad}");
    }
    let xml = TEST_GUEST.replace(
        "<features>",
        "<pm><suspend-to-mem enabled='no'/></pm><features>",
    );
    let text = golden(&build_xml(&xml, &host()).unwrap());
    assert!(text.contains("\n-global PIIX4_PM.disable_s3=1\n"), "{text}");
}

#[test]
fn pty_serial_listens_for_the_console_broker_and_keeps_its_log() {
    let xml = TEST_GUEST.replace(
        "</devices>",
        "<serial type='pty'><source path='/dev/pts/7'/><log file='/var/log/moat/g.log' append='on'/>\
         <target port='1'/></serial></devices>",
    );
    let argv = golden(&build_xml(&xml, &host()).unwrap());
    assert!(
        argv.contains(
            "\n-chardev socket,id=charserial1,path=/run/moat/qemu/g1/console-serial1.sock,\
             server=on,wait=off,logfile=/var/log/moat/g.log,logappend=on\n\
             -device isa-serial,chardev=charserial1,id=serial1,index=1\n"
        ),
        "{argv}"
    );
    assert!(!argv.contains("pty"), "{argv}");
    assert!(!argv.contains("/dev/pts"), "{argv}");
}
