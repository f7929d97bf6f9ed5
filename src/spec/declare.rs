//! Identities declared once: planted bugs and *sometimes* points.
//!
//! [`crate::declare!`] turns one enum declaration — each variant with its
//! canonical name and a doc comment saying what it is — into the enum, its list
//! ([`Declared`] values for `list`, campaigns and the conformance test), and
//! conversions by name (serde, so a `bugs = [...]` list reads into it with an
//! error that names the allowed values). Code uses the variant; reports and
//! scenario files use the name; nothing repeats either.
//!
//! ```
//! faultline::declare! {
//!     /// The mistakes this protocol can be told to make.
//!     pub enum Bug {
//!         /// The primary acknowledges writes it has not synced.
//!         NoFsync = "no_fsync",
//!     }
//! }
//! assert_eq!(Bug::NoFsync.name(), "no_fsync");
//! assert_eq!(Bug::ALL[0].description(), "The primary acknowledges writes it has not synced.");
//! assert_eq!(Bug::from_name("no_fsync"), Some(Bug::NoFsync));
//! ```

#[doc(hidden)]
pub use serde as __serde;

/// One declared identity: its canonical name and what it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Declared {
    /// The canonical name (scenario files, reports, trace identities).
    pub name: &'static str,
    /// The doc comment it was declared with, lines joined by `\n`.
    pub doc: &'static str,
}

impl Declared {
    /// A declaration written out by hand (name and one-line description).
    pub const fn new(name: &'static str, doc: &'static str) -> Self {
        Declared { name, doc }
    }

    /// The doc comment as one line: each line trimmed, joined by spaces.
    pub fn description(&self) -> String {
        let mut text = String::new();
        for line in self
            .doc
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
        {
            if !text.is_empty() {
                text.push(' ');
            }
            text.push_str(line);
        }
        text
    }
}

/// `first` then `second` as one list, for a protocol that declares points of
/// its own beside those of a protocol it embeds (a node holding a Raft node
/// fires Raft's points too). `N` must be the sum of the lengths:
///
/// ```
/// use faultline::spec::{Declared, declare::join};
/// const MINE: &[Declared] = &[Declared::new("lock_granted", "A lock was granted.")];
/// const THEIRS: &[Declared] = &[Declared::new("raft_leader_elected", "A leader won.")];
/// const BOTH: &[Declared] = &join::<{ MINE.len() + THEIRS.len() }>(MINE, THEIRS);
/// assert_eq!(BOTH[1].name, "raft_leader_elected");
/// ```
pub const fn join<const N: usize>(first: &[Declared], second: &[Declared]) -> [Declared; N] {
    assert!(
        first.len() + second.len() == N,
        "join::<N> needs N equal to the two lengths summed"
    );
    let mut out = [Declared::new("", ""); N];
    let mut at = 0;
    while at < first.len() {
        out[at] = first[at];
        at += 1;
    }
    while at < N {
        out[at] = second[at - first.len()];
        at += 1;
    }
    out
}

/// The names of `declared`, in order.
pub fn names(declared: &[Declared]) -> Vec<&'static str> {
    declared.iter().map(|entry| entry.name).collect()
}

/// Declares an enum of identities (planted bugs, *sometimes* points). See the
/// module documentation of `faultline::spec::declare`.
#[macro_export]
macro_rules! declare {
    (
        $(#[$meta:meta])*
        $vis:vis enum $Name:ident {
            $( $(#[doc = $doc:literal])* $Variant:ident = $name:literal ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        $vis enum $Name {
            $( $(#[doc = $doc])* $Variant ),*
        }

        impl $Name {
            /// Every declared value with its name and doc comment, in order.
            pub const ALL: &'static [$crate::spec::Declared] = &[
                $( $crate::spec::Declared::new($name, concat!($($doc, "\n"),*)) ),*
            ];
            /// Every declared name, in order.
            pub const NAMES: &'static [&'static str] = &[ $($name),* ];

            /// The canonical name.
            pub fn name(self) -> &'static str {
                match self { $( $Name::$Variant => $name ),* }
            }

            /// The value with canonical name `name`.
            pub fn from_name(name: &str) -> Option<Self> {
                match name { $( $name => Some($Name::$Variant), )* _ => None }
            }
        }

        impl From<$Name> for &'static str {
            fn from(value: $Name) -> &'static str {
                value.name()
            }
        }

        impl std::fmt::Display for $Name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }

        impl $crate::spec::declare::__serde::Serialize for $Name {
            fn serialize<S: $crate::spec::declare::__serde::Serializer>(
                &self,
                serializer: S,
            ) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.name())
            }
        }

        impl<'de> $crate::spec::declare::__serde::Deserialize<'de> for $Name {
            fn deserialize<D: $crate::spec::declare::__serde::Deserializer<'de>>(
                deserializer: D,
            ) -> Result<Self, D::Error> {
                let text = <String as $crate::spec::declare::__serde::Deserialize>::deserialize(
                    deserializer,
                )?;
                $Name::from_name(&text).ok_or_else(|| {
                    <D::Error as $crate::spec::declare::__serde::de::Error>::unknown_variant(
                        &text,
                        $Name::NAMES,
                    )
                })
            }
        }
    };
}

/// The names of a config's `bugs` list, for `ProtocolSpec::active_bugs`.
pub fn bug_names<B: Copy + Into<&'static str>>(bugs: &[B]) -> Vec<String> {
    bugs.iter().map(|&bug| bug.into().to_string()).collect()
}
