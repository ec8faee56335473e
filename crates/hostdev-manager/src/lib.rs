//! hostdev-manager
