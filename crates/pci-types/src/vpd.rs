//! PCI Vital Product Data: the model libvirt reports (`<capability type='vpd'>`).
//!
//! The fields mirror libvirt's `virPCIVPDResource` (src/util/virpcivpd.h).

/// A parsed VPD resource.
#[derive(Clone, PartialEq, Eq, Debug, Default, serde::Serialize)]
pub struct VpdResource {
    /// The identifier string (large resource tag 0x82), e.g. the product name.
    pub name: String,
    /// The read-only fields (VPD-R), if the resource has that section.
    pub read_only: Option<VpdReadOnly>,
    /// The read-write fields (VPD-W), if the resource has that section.
    pub read_write: Option<VpdReadWrite>,
}

/// A vendor- or system-specific field: `V0`..`VZ` or `Y0`..`YZ` keyword, index is the second character.
#[derive(Clone, PartialEq, Eq, Debug, serde::Serialize)]
pub struct VpdCustomField {
    /// The index character (`0`-`9`, `A`-`Z`).
    pub index: char,
    /// The field's text.
    pub value: String,
}

/// The VPD-R section.
#[derive(Clone, PartialEq, Eq, Debug, Default, serde::Serialize)]
pub struct VpdReadOnly {
    /// `EC`: engineering change level.
    pub change_level: Option<String>,
    /// `MN`: manufacture id.
    pub manufacture_id: Option<String>,
    /// `PN`: part number.
    pub part_number: Option<String>,
    /// `SN`: serial number.
    pub serial_number: Option<String>,
    /// `Vx`: vendor-specific fields.
    pub vendor_fields: Vec<VpdCustomField>,
}

/// The VPD-W section.
#[derive(Clone, PartialEq, Eq, Debug, Default, serde::Serialize)]
pub struct VpdReadWrite {
    /// `YA`: asset tag.
    pub asset_tag: Option<String>,
    /// `Vx`: vendor-specific fields.
    pub vendor_fields: Vec<VpdCustomField>,
    /// `Yx` (other than `YA`): system-specific fields.
    pub system_fields: Vec<VpdCustomField>,
}
