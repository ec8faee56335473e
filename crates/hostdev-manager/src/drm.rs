//! DRM minors (`drm_card0`, `drm_renderD128`, `drm_controlD64`), as libvirt's
//! `udevProcessDRMDevice` reads them: the type is the uevent's `MINOR` / 64.
//! Connectors (`card0-HDMI-A-1`) are not minors and are not listed.

use crate::cnum;
use crate::udev::UdevDevice;

/// `<capability type='drm'>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DrmType {
    /// `card*` (minors 0–63).
    Primary,
    /// `controlD*` (64–127).
    Control,
    /// `renderD*` (128–191).
    Render,
}

impl DrmType {
    /// libvirt's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Primary => "primary",
            Self::Control => "control",
            Self::Render => "render",
        }
    }
}

/// Reads a DRM minor; minors from 192 up are not listed.
pub fn read(dev: &UdevDevice) -> Result<DrmType, String> {
    let minor = dev
        .property("MINOR")
        .and_then(|m| cnum::to_int(m, 10))
        .ok_or_else(|| "no MINOR".to_string())?;
    match minor {
        0..=63 => Ok(DrmType::Primary),
        64..=127 => Ok(DrmType::Control),
        128..=191 => Ok(DrmType::Render),
        _ => Err(format!("minor {minor} is no DRM minor type libvirt knows")),
    }
}
