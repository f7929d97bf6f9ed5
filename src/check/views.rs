//! What replicated-state checkers share: a view of each node that lasts one
//! incarnation (a crash and restart starts it afresh, as if the checker had
//! seen the crash), and the record of which applied-state digest each index
//! (log index, slot) reached first, against which every other node's is judged.
//! Raft's and Paxos's checkers are built on them; so are the storage and
//! transaction checkers that follow.

use super::checker::entry_at;
use crate::sim::{Protocol, World};

/// Per-node checker state `V` for the node's current incarnation.
#[derive(Clone, Debug, Default)]
pub struct Incarnations<V> {
    views: Vec<(u32, V)>,
}

impl<V: Default> Incarnations<V> {
    /// No views yet.
    pub fn new() -> Self {
        Incarnations { views: Vec::new() }
    }

    /// Node `id`'s view: a fresh `V::default()` if the node restarted since
    /// the view was last looked at (a driver can crash and restart a node at
    /// one instant, between two looks).
    pub fn view<P: Protocol>(&mut self, world: &World<P>, id: usize) -> &mut V {
        if self.views.len() < world.node_count() {
            self.views.resize_with(world.node_count(), Default::default);
        }
        let incarnation = world.incarnation(id);
        let (seen, view) = &mut self.views[id];
        if *seen != incarnation {
            *seen = incarnation;
            *view = V::default();
        }
        view
    }

    /// Node `id`'s view as last looked at (it must have been).
    pub fn get_mut(&mut self, id: usize) -> &mut V {
        &mut self.views[id].1
    }
}

/// The applied-state digest each index reached first, and the node that
/// reached it: two nodes with different digests at one index applied
/// different commands, or the same in a different order.
#[derive(Clone, Debug, Default)]
pub struct AppliedDigests {
    /// By index: (digest, node that first reached it).
    digests: Vec<Option<(u64, usize)>>,
}

impl AppliedDigests {
    /// Records that node `id` reached `digest` at `index`; returns the node
    /// that first reached a different one there, if any.
    pub fn disagrees(&mut self, index: u64, digest: u64, id: usize) -> Option<usize> {
        let (known, first) = *entry_at(&mut self.digests, index).get_or_insert((digest, id));
        (known != digest).then_some(first)
    }
}

#[cfg(test)]
mod tests {
    use super::AppliedDigests;

    #[test]
    fn a_different_digest_at_an_index_names_the_node_that_got_there_first() {
        let mut digests = AppliedDigests::default();
        assert_eq!(digests.disagrees(3, 7, 1), None);
        assert_eq!(digests.disagrees(3, 7, 2), None);
        assert_eq!(digests.disagrees(3, 8, 4), Some(1));
        assert_eq!(digests.disagrees(9, 8, 4), None);
    }
}
