//! Leaf cluster names as small ids: the origin a leaf's interest and
//! messages carry across routes (`LS+ <origin>`, `LMSG <origin>`) and the
//! cluster each leaf connection belongs to, compared on every delivery to
//! a leaf, so they travel in a message's spans as a `u16` rather than a
//! name.
//!
//! Invariants: id 0 is "no origin" (an empty name); an id, once given,
//! names the same cluster for the server's life (the table only grows), so
//! a core may cache names it has looked up. The table is shared by all
//! cores behind a mutex taken only when a name is new to a caller: a leaf
//! connects, a route line names an origin its link has not seen last, a
//! core sends a leaf's message to a route for the first time.
//!
//! Never blocks for long (a short critical section), never allocates per
//! message once a name is known.

use std::sync::Mutex;

use bytes::Bytes;

/// How many leaf cluster names a server keeps; later ones get id 0 (no
/// origin), so a peer that names endless origins cannot grow the table.
const MAX: usize = 4096;

/// The server's table of leaf cluster names.
#[derive(Default)]
pub struct Origins {
    names: Mutex<Vec<Bytes>>,
}

impl Origins {
    /// The id of cluster `name` (0 for none, or past [`MAX`] names).
    pub fn id(&self, name: &[u8]) -> u16 {
        if name.is_empty() {
            return 0;
        }
        let mut names = self.names.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = names.iter().position(|n| &n[..] == name) {
            return i as u16 + 1;
        }
        if names.len() >= MAX {
            return 0;
        }
        names.push(Bytes::copy_from_slice(name));
        names.len() as u16
    }

    /// The name of id `id` (empty for 0 or an id never given).
    pub fn name(&self, id: u16) -> Bytes {
        let names = self.names.lock().unwrap_or_else(|e| e.into_inner());
        match id {
            0 => Bytes::new(),
            _ => names.get(id as usize - 1).cloned().unwrap_or_default(),
        }
    }
}

/// A core's (or a link's) cache of names it has looked up.
#[derive(Default)]
pub struct Cache {
    names: Vec<Bytes>,
}

impl Cache {
    /// `id`'s name, from the cache or, once, from `origins`.
    pub fn name(&mut self, origins: &Origins, id: u16) -> Bytes {
        let i = id as usize;
        if let Some(n) = self.names.get(i).filter(|n| !n.is_empty()) {
            return n.clone();
        }
        let n = origins.name(id);
        if self.names.len() <= i {
            self.names.resize(i + 1, Bytes::new());
        }
        self.names[i] = n.clone();
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_zero_means_none() {
        let o = Origins::default();
        assert_eq!(o.id(b""), 0);
        let a = o.id(b"edge");
        let b = o.id(b"hub");
        assert_eq!((a, b), (1, 2));
        assert_eq!(o.id(b"edge"), a);
        let mut c = Cache::default();
        assert_eq!(&c.name(&o, b)[..], b"hub");
        assert_eq!(&c.name(&o, 0)[..], b"");
        assert_eq!(&c.name(&o, 9)[..], b"");
    }

    #[test]
    fn the_table_is_bounded() {
        let o = Origins::default();
        for i in 0..MAX {
            assert_ne!(o.id(format!("c{i}").as_bytes()), 0);
        }
        assert_eq!(o.id(b"one too many"), 0);
        assert_eq!(o.id(b"c7"), 8);
    }
}
