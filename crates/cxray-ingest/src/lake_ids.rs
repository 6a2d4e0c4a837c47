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
//! offset 16  the SHA-256 (hex) of the input file whose ids it holds
//! offset 80  the hashes (u64, little endian), ascending; repeats allowed
//! ```
//!
//! A run whose file is not the one the manifest names at its number (a lake copied or
//! restored, an ingest by an older cxray after one that stopped) is not used: it is built
//! again.

use std::collections::HashSet;
use std::io::{BufWriter, Write};
use std::path::Path;

use cxray_kernels::hash_id;

use crate::IngestError;

const MAGIC: &[u8; 6] = b"CXIDS\0";
/// Changes when the layout or [`hash_id`] changes: runs of another version are built again.
const RUN_FORMAT: u16 = 2;
const SHA_HEX: usize = 64;
const HEADER: usize = 16 + SHA_HEX;

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

/// Writes `hashes` (ascending) of the ids of the input file with SHA-256 `sha256` (hex) as the
/// run at `rel`, synced, replacing any earlier one.
pub(crate) fn write_run(
    dir: &Path,
    rel: &str,
    sha256: &str,
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
    w.write_all(&sha_field(sha256)).map_err(io)?;
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

/// The header's field for a file's SHA-256: its hex, padded or cut to the field.
fn sha_field(sha256: &str) -> [u8; SHA_HEX] {
    let mut field = [b' '; SHA_HEX];
    let n = sha256.len().min(SHA_HEX);
    field[..n].copy_from_slice(&sha256.as_bytes()[..n]);
    field
}

/// A run mapped for reading.
pub(crate) struct Run {
    map: memmap2::Mmap,
    len: usize,
}

impl Run {
    /// The run at `rel` of the input file with SHA-256 `sha256`; `None` when it is missing, not
    /// a run of this format, or another file's (to be built again from the parts). Other
    /// failures to read it are errors.
    pub(crate) fn open(dir: &Path, rel: &str, sha256: &str) -> Result<Option<Run>, IngestError> {
        let path = dir.join(rel);
        let f = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(IngestError::Io {
                    path,
                    message: e.to_string(),
                });
            }
        };
        // SAFETY: the lake's lock is held by this ingest, the only writer of its runs, and a
        // run is replaced by a rename, never written in place.
        let map = unsafe { memmap2::Mmap::map(&f) }.map_err(|e| IngestError::Io {
            path: path.clone(),
            message: e.to_string(),
        })?;
        if map.len() < HEADER
            || &map[..6] != MAGIC
            || u16::from_le_bytes([map[6], map[7]]) != RUN_FORMAT
            || map[16..HEADER] != sha_field(sha256)
        {
            return Ok(None);
        }
        let n = u64::from_le_bytes(map[8..16].try_into().expect("8 bytes"));
        let size = n.checked_mul(8).and_then(|b| b.checked_add(HEADER as u64));
        Ok((size == Some(map.len() as u64)).then_some(Run {
            map,
            len: n as usize,
        }))
    }

    /// The `i`-th hash.
    fn get(&self, i: usize) -> u64 {
        let at = HEADER + 8 * i;
        u64::from_le_bytes(self.map[at..at + 8].try_into().expect("8 bytes"))
    }

    fn hashes(&self) -> impl Iterator<Item = u64> + '_ {
        self.map[HEADER..]
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
    }

    /// Indices into `new` (sorted by hash) of the ids whose hash is in this run, ascending.
    /// Merged in one pass when the two are of like size; a few new ids against a long run
    /// are searched for instead, touching a few pages of it each.
    pub(crate) fn matches(&self, new: &[NewId]) -> Vec<usize> {
        let mut out = Vec::new();
        if new.len().saturating_mul(64) < self.len {
            let mut lo = 0;
            for (j, n) in new.iter().enumerate() {
                // The hashes before `lo` are below every hash still to look for.
                let (mut a, mut b) = (lo, self.len);
                while a < b {
                    let mid = a + (b - a) / 2;
                    if self.get(mid) < n.hash {
                        a = mid + 1;
                    } else {
                        b = mid;
                    }
                }
                lo = a;
                if a < self.len && self.get(a) == n.hash {
                    out.push(j);
                }
            }
            return out;
        }
        let mut i = 0;
        let mut last = None;
        for h in self.hashes() {
            // A hash the run repeats matched its new ids the first time.
            if last == Some(h) {
                continue;
            }
            last = Some(h);
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

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::StringArray;

    const SHA: &str = "5a1e0c2f9d8b7a6e5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e";

    fn ids(v: &[Option<&str>]) -> StringArray {
        StringArray::from(v.to_vec())
    }

    /// A written run is read back as the same hashes; another file's run, a run of another
    /// format, a truncated one, one whose count overflows and a missing one are not runs.
    #[test]
    fn runs_round_trip_and_refuse_what_they_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let new = hash_ids([ids(&[Some("a"), None, Some("b"), Some("c")])].iter());
        assert_eq!(new.len(), 3);
        let path = "ids/x/part-00000.ids";
        write_run(dir.path(), path, SHA, new.iter().map(|n| n.hash)).unwrap();
        let open = |sha: &str| Run::open(dir.path(), path, sha).unwrap();
        let run = open(SHA).expect("a run");
        let back: Vec<u64> = run.hashes().collect();
        assert_eq!(back, new.iter().map(|n| n.hash).collect::<Vec<_>>());
        assert!(back.windows(2).all(|w| w[0] <= w[1]));

        assert!(open(&SHA.replace('a', "b")).is_none(), "another file's");
        let p = dir.path().join(path);
        let mut bytes = std::fs::read(&p).unwrap();
        bytes.pop();
        std::fs::write(&p, &bytes).unwrap();
        assert!(open(SHA).is_none(), "truncated");
        bytes.push(0);
        bytes[6] = 9;
        std::fs::write(&p, &bytes).unwrap();
        assert!(open(SHA).is_none(), "other format");
        // A count whose size overflows is not a run either.
        bytes[6] = RUN_FORMAT as u8;
        bytes[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
        std::fs::write(&p, &bytes).unwrap();
        assert!(open(SHA).is_none(), "overflowing count");
        let missing = Run::open(dir.path(), "ids/x/part-00001.ids", SHA).unwrap();
        assert!(missing.is_none(), "missing");
    }

    /// The merge (new ids of like number to the run's) and the search (few new ids against a
    /// long run) find exactly the new ids whose hash a run holds: the set a hash set gives.
    #[test]
    fn merge_and_search_match_a_set_lookup() {
        for fresh_n in [20_000, 300] {
            find_the_ids_of_a_run(fresh_n);
        }
    }

    fn find_the_ids_of_a_run(fresh_n: usize) {
        let dir = tempfile::tempdir().unwrap();
        let old: Vec<String> = (0..30_000).map(|i| format!("r{}", i * 3)).collect();
        let fresh: Vec<String> = (0..fresh_n)
            .map(|i| format!("r{}", i * 2 + 1_000))
            .collect();
        let old_col = StringArray::from(old.iter().map(String::as_str).collect::<Vec<_>>());
        let strs =
            |v: &[String]| StringArray::from(v.iter().map(String::as_str).collect::<Vec<_>>());
        let half = fresh_n / 3;
        let new_cols = [strs(&fresh[..half]), strs(&fresh[half..])];
        // Every hash twice: a run may repeat one (two ids with one hash).
        let old_hashes = hash_ids([old_col.clone(), old_col].iter());
        write_run(dir.path(), "r.ids", SHA, old_hashes.iter().map(|n| n.hash)).unwrap();
        let run = Run::open(dir.path(), "r.ids", SHA).unwrap().unwrap();
        let new = hash_ids(new_cols.iter());
        let text = |n: &NewId| new_cols[n.batch as usize].value(n.row as usize);
        let matched = run.matches(&new);
        assert!(
            matched.windows(2).all(|w| w[0] < w[1]),
            "each once, in order"
        );
        let found: HashSet<&str> = matched.into_iter().map(|i| text(&new[i])).collect();
        let old_set: HashSet<&str> = old.iter().map(String::as_str).collect();
        let want: HashSet<&str> = fresh
            .iter()
            .map(String::as_str)
            .filter(|s| old_set.contains(s))
            .collect();
        assert!(want.len() > fresh_n / 10, "{}", want.len());
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

/// The runs on disk hold [`hash_id`] values: if the function changes, runs written before no
/// longer match their ids, so [`RUN_FORMAT`] must change with it (and the values here, which
/// are this function's own outputs, recorded when the format was set).
#[cfg(test)]
#[test]
fn the_hash_of_runs_is_pinned() {
    let got: Vec<u64> = ["r1", "response-000042", "", "ü"]
        .iter()
        .map(|s| hash_id(s))
        .collect();
    let pinned = [
        1_963_776_689_676_879_360,
        8_844_317_566_335_661_926,
        8_879_907_357_451_261_049,
        211_081_265_702_727_507,
    ];
    assert_eq!(
        got, pinned,
        "hash_id changed: bump RUN_FORMAT and pin the new values"
    );
}
