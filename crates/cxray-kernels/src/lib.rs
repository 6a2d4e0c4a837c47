//! # cxray-kernels
//!
//! Small compute kernels that the reading, the engine and the project layer share, so that each
//! is written once: work spread over every core in a fixed order ([`parallel`],
//! [`parallel_chunks`]), and dense integer indices of string ids with a fast hash for the
//! millions of customer, session and response ids a project holds ([`IdIndex`], [`IdHasher`]).
//!
//! ```
//! // Squares of 0..10 on two threads, in order.
//! let squares = cxray_kernels::parallel(10, 2, |k| k * k);
//! assert_eq!(squares[9], 81);
//! // Sums of runs of a slice, one run per thread.
//! let sums = cxray_kernels::parallel_chunks(&[1, 2, 3, 4, 5], 2, |run| run.iter().sum::<i32>());
//! assert_eq!(sums, [6, 9]);
//! ```

use std::hash::Hasher;

/// Runs `work` over `n` jobs on `threads` threads, returning results in job order.
pub fn parallel<T: Send>(n: usize, threads: usize, work: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let slots: std::sync::Mutex<Vec<Option<T>>> =
        std::sync::Mutex::new((0..n).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..threads.max(1).min(n.max(1)) {
            s.spawn(|| {
                loop {
                    let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if k >= n {
                        break;
                    }
                    let out = work(k);
                    slots.lock().expect("no panics while holding the lock")[k] = Some(out);
                }
            });
        }
    });
    slots
        .into_inner()
        .expect("threads joined")
        .into_iter()
        .map(|o| o.expect("every job ran"))
        .collect()
}

/// `items` cut into one run per thread, `work` over each run on its own thread; results in
/// order.
pub fn parallel_chunks<I: Sync, T: Send>(
    items: &[I],
    threads: usize,
    work: impl Fn(&[I]) -> T + Sync,
) -> Vec<T> {
    let chunk = items.len().div_ceil(threads.max(1)).max(1);
    let runs: Vec<&[I]> = items.chunks(chunk).collect();
    parallel(runs.len(), threads, |k| work(runs[k]))
}

/// Dense indices (0, 1, 2, … in order of first appearance) of string ids such as customer ids,
/// for grouping millions of rows by id: the table holds only `u32` indices, the ids stay
/// borrowed, and a caller that already hashed an id (to split rows between threads) passes the
/// hash instead of hashing again.
///
/// ```
/// let mut index = cxray_kernels::IdIndex::default();
/// assert_eq!(index.insert("C2"), (0, true));
/// assert_eq!(index.insert("C1"), (1, true));
/// assert_eq!(index.insert("C2"), (0, false));
/// assert_eq!(index.get("C1"), Some(1));
/// assert_eq!(index.ids(), ["C2", "C1"]);
/// ```
#[derive(Default)]
pub struct IdIndex<'a> {
    table: hashbrown::HashTable<u32>,
    ids: Vec<&'a str>,
}

impl<'a> IdIndex<'a> {
    pub fn with_capacity(n: usize) -> Self {
        IdIndex {
            table: hashbrown::HashTable::with_capacity(n),
            ids: Vec::with_capacity(n),
        }
    }

    /// The hash [`IdIndex`] uses for an id (the one duplicate detection uses).
    pub fn hash(id: &str) -> u64 {
        hash_id(id)
    }

    /// Which of `parts` threads an id belongs to, from its [`IdIndex::hash`], when rows are
    /// split between threads by id (each thread indexing its own ids).
    pub fn part(hash: u64, parts: usize) -> usize {
        (hash >> 59) as usize % parts.max(1)
    }

    /// The index of `id`, added if new, and whether it was new.
    pub fn insert(&mut self, id: &'a str) -> (u32, bool) {
        self.insert_hashed(id, Self::hash(id))
    }

    /// [`IdIndex::insert`] with the id's [`IdIndex::hash`].
    pub fn insert_hashed(&mut self, id: &'a str, hash: u64) -> (u32, bool) {
        let ids = &self.ids;
        match self.table.entry(
            hash,
            |&i| ids[i as usize] == id,
            |&i| Self::hash(ids[i as usize]),
        ) {
            hashbrown::hash_table::Entry::Occupied(e) => (*e.get(), false),
            hashbrown::hash_table::Entry::Vacant(e) => {
                let i = u32::try_from(self.ids.len()).expect("fewer than 2^32 ids");
                e.insert(i);
                self.ids.push(id);
                (i, true)
            }
        }
    }

    /// The index of `id`, if present.
    pub fn get(&self, id: &str) -> Option<u32> {
        self.get_hashed(id, Self::hash(id))
    }

    /// [`IdIndex::get`] with the id's [`IdIndex::hash`].
    pub fn get_hashed(&self, id: &str, hash: u64) -> Option<u32> {
        self.table
            .find(hash, |&i| self.ids[i as usize] == id)
            .copied()
    }

    /// The ids, by index.
    pub fn ids(&self) -> &[&'a str] {
        &self.ids
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// FxHash-style hasher for short keys (dictionary values, ids), finished with the MurmurHash3
/// 64-bit finaliser so that every bit of the result depends on every input bit (hash tables use
/// the low bits for buckets).
#[derive(Default)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        // The length first: otherwise "r123456" and "r1234568" collide, the padding of the
        // short tail matching the last byte of the long one.
        let mut h = (self.0.rotate_left(5) ^ bytes.len() as u64).wrapping_mul(K);
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            h = (h.rotate_left(5) ^ u64::from_le_bytes(c.try_into().unwrap())).wrapping_mul(K);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut buf = [0u8; 8];
            buf[..rest.len()].copy_from_slice(rest);
            h = (h.rotate_left(5) ^ u64::from_le_bytes(buf)).wrapping_mul(K);
        }
        self.0 = h;
    }
    fn finish(&self) -> u64 {
        fmix64(self.0)
    }
}

fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^ (k >> 33)
}

/// Hash of an id (a response id, a customer id): [`IdIndex`] and duplicate detection use it;
/// equal hashes are confirmed on the text.
pub fn hash_id(id: &str) -> u64 {
    let mut h = IdHasher::default();
    h.write(id.as_bytes());
    h.write(&[0xff]);
    h.finish()
}

#[cfg(test)]
mod hash_tests {
    /// Indices are dense and in order of first appearance, the same as a plain map gives, for
    /// 300,000 ids with repeats (the table grows many times from empty).
    #[test]
    fn id_index_matches_a_map_in_first_seen_order() {
        let ids: Vec<String> = (0..300_000u64)
            .map(|i| format!("C{:07}", (i * 7_919) % 120_001))
            .collect();
        let mut index = super::IdIndex::default();
        let mut reference: std::collections::HashMap<&str, u32> = Default::default();
        for id in &ids {
            let next = reference.len() as u32;
            let want = *reference.entry(id).or_insert(next);
            assert_eq!(index.insert(id), (want, want == next), "{id}");
        }
        assert_eq!(index.len(), reference.len());
        for (id, i) in &reference {
            assert_eq!(index.get(id), Some(*i));
            assert_eq!(index.ids()[*i as usize], *id);
        }
        assert_eq!(index.get("C9999999"), None);
    }

    #[test]
    fn ids_of_different_lengths_do_not_collide() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..200_000u32 {
            for id in [
                format!("r{i}"),
                format!("r{i}8"),
                format!("{i:08}"),
                format!("r{i}#1"),
            ] {
                seen.insert((super::hash_id(&id), id));
            }
        }
        let hashes: std::collections::HashSet<u64> = seen.iter().map(|(h, _)| *h).collect();
        assert_eq!(hashes.len(), seen.len());
    }
}
