//! nodedev-xml
