//! python3-libvirt (Debian's, run with /usr/bin/python3) against a real moatd.
#![allow(clippy::tests_outside_test_module, clippy::unwrap_used)] // a test crate: panics are failures

mod common;

use common::*;

const SCRIPT: &str = r#"
import os, sys, libvirt

XML = """<domain type='kvm'>
  <name>py1</name>
  <uuid>9a4c1f3e-1b2d-4c5e-8f70-112233445566</uuid>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64'>hvm</type></os>
</domain>"""

conn = libvirt.open(os.environ["URI"])
assert conn.getType() == "QEMU", conn.getType()
assert conn.getLibVersion() == 9000000
assert conn.getHostname()
assert conn.listAllDomains(0) == []

dom = conn.defineXML(XML)
assert dom.name() == "py1"
assert dom.UUIDString() == "9a4c1f3e-1b2d-4c5e-8f70-112233445566"
assert dom.ID() == -1
assert not dom.isActive()
assert dom.isPersistent()

doms = conn.listAllDomains(0)
assert [d.name() for d in doms] == ["py1"], doms
assert [d.name() for d in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_INACTIVE)] == ["py1"]
assert conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE) == []
assert conn.listDefinedDomains() == ["py1"]
assert conn.numOfDomains() == 0

same = conn.lookupByName("py1")
state, maxmem, mem, vcpus, cputime = same.info()
assert state == libvirt.VIR_DOMAIN_SHUTOFF, state
assert maxmem == 131072 and vcpus == 1, (maxmem, vcpus)
assert same.state() == [libvirt.VIR_DOMAIN_SHUTOFF, 0]
assert "<name>py1</name>" in same.XMLDesc(0)
assert conn.lookupByUUIDString("9a4c1f3e-1b2d-4c5e-8f70-112233445566").name() == "py1"

try:
    conn.lookupByName("nope")
    sys.exit("lookup of a missing domain succeeded")
except libvirt.libvirtError as e:
    assert e.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN, e.get_error_code()

try:
    conn.defineXML("<domain")
    sys.exit("bad XML accepted")
except libvirt.libvirtError as e:
    assert e.get_error_code() == libvirt.VIR_ERR_XML_ERROR, e.get_error_code()

# The read-only socket: reads work, writes are refused by the daemon.
ro = libvirt.open(os.environ["URI_RO"])
assert [d.name() for d in ro.listAllDomains(0)] == ["py1"]
try:
    ro.lookupByName("py1").undefine()
    sys.exit("read-only undefine succeeded")
except libvirt.libvirtError as e:
    assert e.get_error_code() == libvirt.VIR_ERR_OPERATION_DENIED, e.get_error_code()
    assert "read only access prevents virDomainUndefine" in str(e), str(e)
ro.close()

same.undefine()
assert conn.listAllDomains(0) == []
conn.close()
print("OK")
"#;

#[test]
fn python_libvirt_define_list_lookup_undefine() {
    let daemon = TestDaemon::start();
    let out = ok(daemon.python(SCRIPT));
    assert_eq!(out.trim(), "OK");
    assert!(daemon.stored_definitions().is_empty());
}

const EVENTS: &str = r#"
import os, threading, libvirt

libvirt.virEventRegisterDefaultImpl()
conn = libvirt.open(os.environ["URI"])
seen = []
def cb(conn, dom, event, detail, opaque):
    seen.append((dom.name(), event, detail))
conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, cb, None)

def pump():
    while len(seen) < 3:
        libvirt.virEventRunDefaultImpl()
t = threading.Thread(target=pump, daemon=True)
t.start()
xml = "<domain type='qemu'><name>ev</name><memory>65536</memory><os><type>hvm</type></os></domain>"
dom = conn.defineXML(xml)
conn.defineXML(xml.replace("65536", "131072").replace("<name>ev</name>", "<name>ev</name><uuid>%s</uuid>" % dom.UUIDString()))
dom.undefine()
t.join(10)
print(seen)
assert seen == [("ev", 0, 0), ("ev", 0, 1), ("ev", 1, 0)], seen
print("OK")
"#;

#[test]
fn python_libvirt_receives_lifecycle_events() {
    let daemon = TestDaemon::start();
    let out = ok(daemon.python(EVENTS));
    assert!(out.trim().ends_with("OK"), "{out}");
}
