//! The lake's id index: for each input file of an entity with ids, the sorted 64-bit hashes of
//! its rows' ids, in `ids/<entity>/part-NNNNN.ids` beside its parts.
//!
//! A new file's ids are checked against the lake by merging its own sorted hashes with each
//! earlier file's run, so an ingest holds the new file's ids and nothing of the lake's in memory
//! (the run is mapped, read once in order). Equal hashes are only candidates: they are
//! confirmed on the text by reading the id column of the file that holds the run, so a
//! collision between two different ids never rejects a row. A run is data derived from the
//! parts: a missing or unreadable one (a lake written before runs existed) is built again from
//! its file's parts.
//!
//! ```text
//! offset 0   b"CXIDS\0" then the run format (u16, little endian)
//! offset 8   number of hashes (u64, little endian)
//! offset 16  the hashes (u64, little endian), ascending; repeats allowed
//! ```

use std::collections::HashSet;
use std::io::{BufWriter, Write};
use std::path::Path;

use cxray_kernels::{hash_id, parallel};

use crate::IngestError;

const MAGIC: &[u8; 6] = b"CXIDS\0";
/// Changes when the layout or [`hash_id`] changes: runs of another version are built again.
const RUN_FORMAT: u16 = 1;
const HEADER: usize = 16;

/// The run of the input file numbered `k` of `entity`, relative to the lake.
pub(crate) fn run_path(entity: &str, k: usize) -> String {
    format!("ids/{entity}/part-{k:05}.ids")
}

/// One id of a new file: its hash and where it is (batch, row).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct NewId {
    pub hash: u64,
    pub batch: u32,
    pub row: u32,
}

/// The hashes of the non-null ids of `columns` (one per batch), sorted by hash then place.
pub(crate) fn hash_ids<'a>(
    columns: impl Iterator<Item = &'a arrow::array::StringArray>,
) -> Vec<NewId> {
    use arrow::array::Array;
    let mut out = Vec::new();
    for (b, col) in columns.enumerate() {
        out.reserve(col.len() - col.null_count());
        for r in 0..col.len() {
            if col.is_valid(r) {
                out.push(NewId {
                    hash: hash_id(col.value(r)),
                    batch: b as u32,
                    row: r as u32,
                });
            }
        }
    }
    out.sort_unstable();
    out
}

/// Writes `hashes` (ascending) as the run at `rel`, synced, replacing any earlier one.
pub(crate) fn write_run(
    dir: &Path,
    rel: &str,
    hashes: impl ExactSizeIterator<Item = u64>,
) -> Result<(), IngestError> {
    let path = dir.join(rel);
    let io = |e: std::io::Error| IngestError::Io {
        path: path.clone(),
        message: e.to_string(),
    };
    if let Some(folder) = path.parent() {
        std::fs::create_dir_all(folder).map_err(io)?;
    }
    let tmp = path.with_extension("ids.tmp");
    let f = std::fs::File::create(&tmp).map_err(io)?;
    let mut w = BufWriter::with_capacity(1 << 20, f);
    w.write_all(MAGIC).map_err(io)?;
    w.write_all(&RUN_FORMAT.to_le_bytes()).map_err(io)?;
    w.write_all(&(hashes.len() as u64).to_le_bytes())
        .map_err(io)?;
    let mut last = 0u64;
    for h in hashes {
        debug_assert!(h >= last, "a run is written in order");
        last = h;
        w.write_all(&h.to_le_bytes()).map_err(io)?;
    }
    let f = w.into_inner().map_err(|e| io(e.into_error()))?;
    f.sync_all().map_err(io)?;
    std::fs::rename(&tmp, &path).map_err(io)
}

/// A run mapped for reading.
pub(crate) struct Run {
    map: memmap2::Mmap,
}

impl Run {
    /// The run at `rel`, or `None` when it is missing or not a run of this format (to be built
    /// again from the parts).
    pub(crate) fn open(dir: &Path, rel: &str) -> Option<Run> {
        let f = std::fs::File::open(dir.join(rel)).ok()?;
        // SAFETY: the lake's lock is held by this ingest, the only writer of its runs, and a
        // run is replaced by a rename, never written in place.
        let map = unsafe { memmap2::Mmap::map(&f) }.ok()?;
        if map.len() < HEADER
            || &map[..6] != MAGIC
            || u16::from_le_bytes([map[6], map[7]]) != RUN_FORMAT
        {
            return None;
        }
        let n = u64::from_le_bytes(map[8..16].try_into().expect("8 bytes"));
        (map.len() as u64 == HEADER as u64 + n.checked_mul(8)?).then_some(Run { map })
    }

    fn hashes(&self) -> impl Iterator<Item = u64> + '_ {
        self.map[HEADER..]
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
    }

    /// Indices into `new` (sorted by hash) of the ids whose hash is in this run.
    pub(crate) fn matches(&self, new: &[NewId]) -> Vec<usize> {
        let mut out = Vec::new();
        let mut i = 0;
        for h in self.hashes() {
            while i < new.len() && new[i].hash < h {
                i += 1;
            }
            if i == new.len() {
                break;
            }
            let mut j = i;
            while j < new.len() && new[j].hash == h {
                out.push(j);
                j += 1;
            }
        }
        // A hash repeated in the run gives its new ids twice.
        out.dedup();
        out
    }
}

/// Which of the candidates (indices into `new`) really are ids of an earlier file, given the
/// text of every id of that file (`earlier`) and of the new ones (`text`).
pub(crate) fn confirm<'a>(
    new: &[NewId],
    candidates: &[usize],
    earlier: impl Iterator<Item = &'a str>,
    text: impl Fn(&NewId) -> &'a str,
) -> Vec<usize> {
    let wanted: HashSet<u64> = candidates.iter().map(|&i| new[i].hash).collect();
    let held: HashSet<&str> = earlier.filter(|id| wanted.contains(&hash_id(id))).collect();
    candidates
        .iter()
        .copied()
        .filter(|&i| held.contains(text(&new[i])))
        .collect()
}

/// For each of `runs`, the candidates of `new` it holds, read on `threads` threads.
pub(crate) fn candidates(runs: &[Run], new: &[NewId], threads: usize) -> Vec<Vec<usize>> {
    parallel(runs.len(), threads, |i| runs[i].matches(new))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::StringArray;

    fn ids(v: &[Option<&str>]) -> StringArray {
        StringArray::from(v.to_vec())
    }

    /// A written run is read back as the same hashes; a run of another format, a truncated
    /// one and a missing one are not runs.
    #[test]
    fn runs_round_trip_and_refuse_what_they_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let new = hash_ids([ids(&[Some("a"), None, Some("b"), Some("c")])].iter());
        assert_eq!(new.len(), 3);
        write_run(
            dir.path(),
            "ids/x/part-00000.ids",
            new.iter().map(|n| n.hash),
        )
        .unwrap();
        let run = Run::open(dir.path(), "ids/x/part-00000.ids").expect("a run");
        let back: Vec<u64> = run.hashes().collect();
        assert_eq!(back, new.iter().map(|n| n.hash).collect::<Vec<_>>());
        assert!(back.windows(2).all(|w| w[0] <= w[1]));

        let p = dir.path().join("ids/x/part-00000.ids");
        let mut bytes = std::fs::read(&p).unwrap();
        bytes.pop();
        std::fs::write(&p, &bytes).unwrap();
        assert!(
            Run::open(dir.path(), "ids/x/part-00000.ids").is_none(),
            "truncated"
        );
        bytes.push(0);
        bytes[6] = 9;
        std::fs::write(&p, &bytes).unwrap();
        assert!(
            Run::open(dir.path(), "ids/x/part-00000.ids").is_none(),
            "other format"
        );
        assert!(
            Run::open(dir.path(), "ids/x/part-00001.ids").is_none(),
            "missing"
        );
    }

    /// The merge finds exactly the new ids whose hash a run holds: the same set as a hash
    /// set gives, over 20,000 ids with a third of them in the run.
    #[test]
    fn merge_matches_a_set_lookup() {
        let dir = tempfile::tempdir().unwrap();
        let old: Vec<String> = (0..30_000).map(|i| format!("r{}", i * 3)).collect();
        let fresh: Vec<String> = (0..20_000).map(|i| format!("r{}", i * 2 + 1_000)).collect();
        let old_col = StringArray::from(old.iter().map(String::as_str).collect::<Vec<_>>());
        let new_cols = [
            StringArray::from(
                fresh[..7_000]
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>(),
            ),
            StringArray::from(
                fresh[7_000..]
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>(),
            ),
        ];
        let old_hashes = hash_ids([old_col].iter());
        write_run(dir.path(), "r.ids", old_hashes.iter().map(|n| n.hash)).unwrap();
        let run = Run::open(dir.path(), "r.ids").unwrap();
        let new = hash_ids(new_cols.iter());
        let text = |n: &NewId| new_cols[n.batch as usize].value(n.row as usize);
        let found: HashSet<&str> = run
            .matches(&new)
            .into_iter()
            .map(|i| text(&new[i]))
            .collect();
        let old_set: HashSet<&str> = old.iter().map(String::as_str).collect();
        let want: HashSet<&str> = fresh
            .iter()
            .map(String::as_str)
            .filter(|s| old_set.contains(s))
            .collect();
        assert!(want.len() > 3_000, "{}", want.len());
        assert_eq!(found, want);
    }

    /// Two different ids with the same hash are a candidate but not a duplicate: only the
    /// text decides.
    #[test]
    fn a_hash_collision_is_not_a_duplicate() {
        let new_col = ids(&[Some("kept"), Some("again")]);
        let mut new = hash_ids([new_col.clone()].iter());
        // Make "kept" collide with an earlier id that is not it.
        let earlier = ["other", "again"];
        let other = hash_id("other");
        for n in &mut new {
            if new_col.value(n.row as usize) == "kept" {
                n.hash = other;
            }
        }
        new.sort_unstable();
        let all: Vec<usize> = (0..new.len()).collect();
        let text = |n: &NewId| new_col.value(n.row as usize);
        // `confirm` looks the earlier ids up by their own hash, so "other" is wanted through
        // the forced hash; its text still differs from "kept".
        let confirmed = confirm(&new, &all, earlier.iter().copied(), text);
        let names: Vec<&str> = confirmed.iter().map(|&i| text(&new[i])).collect();
        assert_eq!(names, ["again"]);
    }
}
