//! Plain PCI types shared by every nodedev-shim crate. Nothing here does I/O.
//!
//! * [`PciAddress`]: a function's address, parsed once from any spelling users
//!   and the kernel use (`pci_0000_07_10_1`, `0000:07:10.1`, `07:10.1`) and
//!   printed in each of them.
//! * [`DriverName`]: a kernel driver name that is safe to write into sysfs
//!   (no `/`, no whitespace or newline, bounded length).
//! * [`LinkSpeed`], [`PciExpressLink`]: the PCIe link fields libvirt reports.
//! * [`vpd`]: the Vital Product Data model and its binary parser.

mod address;
mod driver;
mod link;
pub mod vpd;

pub use address::{AddressError, PciAddress};
pub use driver::{DriverName, DriverNameError, MAX_DRIVER_NAME_LEN};
pub use link::{LinkSpeed, PciExpressLink};
