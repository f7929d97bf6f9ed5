//! Fuzz campaign charts (placeholder, filled in below).
