//! Device `<address type='…'>`: where a device sits on its bus.

/// A device address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Address {
    /// `type='pci'`.
    Pci(PciAddress),
    /// `type='drive'` (IDE/SATA/SCSI/floppy controllers).
    Drive(DriveAddress),
    /// `type='virtio-serial'`.
    VirtioSerial(VirtioSerialAddress),
    /// `type='usb'`.
    Usb(UsbAddress),
    /// Any other address type (`ccw`, `isa`, `spapr-vio`…) with its attributes as written.
    Other {
        /// `type`.
        kind: String,
        /// The other attributes in input order.
        attributes: Vec<(String, String)>,
    },
}

/// A PCI address `domain:bus:slot.function`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PciAddress {
    /// PCI domain (0–0xffff).
    pub domain: u16,
    /// Bus (0–0xff).
    pub bus: u8,
    /// Slot (0–0x1f).
    pub slot: u8,
    /// Function (0–7).
    pub function: u8,
    /// `multifunction='on'|'off'`.
    pub multifunction: Option<super::OnOff>,
}

/// A drive address on a disk controller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DriveAddress {
    /// `controller` index.
    pub controller: u32,
    /// `bus`.
    pub bus: u32,
    /// `target`.
    pub target: u32,
    /// `unit`.
    pub unit: u32,
}

/// A port on a virtio-serial controller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct VirtioSerialAddress {
    /// `controller` index.
    pub controller: u32,
    /// `bus`.
    pub bus: u32,
    /// `port`.
    pub port: u32,
}

/// A USB port: `bus` and a dotted `port` path such as `1.2`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct UsbAddress {
    /// `bus`.
    pub bus: u32,
    /// `port`, as written.
    pub port: Option<String>,
}
