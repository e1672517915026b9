//! The jail around every QEMU (skeleton; filled in by issue 6).
