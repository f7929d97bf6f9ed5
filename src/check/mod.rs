//! History checking: deciding whether what clients observed is allowed.

pub mod checker;

pub use checker::{Checker, Property, Violation};
