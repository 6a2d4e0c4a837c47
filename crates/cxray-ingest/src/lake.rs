//! A **lake**: the project's sources validated once into Parquet, so that analyses read typed
//! columns instead of parsing and checking text again.
//!
//! ```text
//! lake/
//!   manifest.json                       every input file: content hash, counts, parts
//!   responses/month=2025-03/part-00000.parquet
//!   tickets/month=2025-03/part-00002.parquet
//!   customers/part-00001.parquet        rows without a date (customers without signup_at)
//!   rejects/part-00002.csv              the rows an input file lost, with their reasons
//!   ids/responses/part-00000.ids        the sorted hashes of a file's ids (see lake_ids)
//! ```
//!
//! Each input file becomes parts numbered by its place in the manifest; the manifest, written
//! last and replaced atomically, is what makes them part of the lake (parts of an ingest that
//! stopped half way are removed by the next one). Ingesting again skips a file whose content
//! was ingested before (same SHA-256) and appends a new one; an id already in the lake (a
//! response, ticket, customer or mention id) is rejected with the file that holds the first.
//! That check merges the new file's ids with each earlier file's sorted run of id hashes on
//! disk, so an ingest's memory grows with the file it reads, not with the lake (8 bytes an id
//! on disk).
//! For every input file, `read = accepted + rejected` holds as it does for a direct read.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufWriter, Read as _, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, Date32Array, StringArray, UInt16Array, UInt32Array};
use arrow::buffer::ScalarBuffer;
use arrow::datatypes::Schema;
use arrow::record_batch::RecordBatch;
use cxray_kernels::parallel;
use cxray_metrics::MetricCatalog;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::entity::{Entity, EntityTable, entity_schema};
use crate::lake_ids::{self, NewId};
use crate::rows::{Counts, FIXED_COLUMNS, responses_schema};
use crate::{IngestError, LoadOptions, Loaded, Reject, SourceConfig, SourceReport, Sources};

/// The manifest's file name in a lake folder.
pub const MANIFEST: &str = "manifest.json";
const FORMAT: &str = "cxray-lake";
/// The version of the lake's layout and of its tables' columns; a lake of another version is
/// refused (ingest again into a new folder).
pub const SCHEMA_VERSION: u32 = 1;
/// The folder name of answers (the other entities use [`Entity::name`]).
pub const RESPONSES: &str = "responses";
/// Input files a lake holds (a row's file is a `u16`; the rest is left to live sources).
pub const MAX_FILES: usize = 60_000;

/// What a lake holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub schema_version: u32,
    /// The project timezone the local dates (and so the months) were computed in.
    pub timezone: String,
    /// Every input file ingested, in order; a row's `source_file` is its index here.
    pub files: Vec<LakeFile>,
    /// Files skipped because their content is in the lake under another name or an earlier
    /// modification time: what the staleness check compares them with.
    #[serde(default)]
    pub seen: Vec<Seen>,
    /// The metric scales the answers were validated against
    /// ([`cxray_metrics::MetricCatalog::validation_rules`]); absent in lakes written before
    /// it was recorded.
    #[serde(default)]
    pub metrics: Option<Vec<String>>,
}

/// A file whose content is in the lake (see [`Manifest::seen`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Seen {
    pub path: String,
    pub bytes: u64,
    pub modified: Option<i64>,
}

impl Manifest {
    /// Whether the lake's answers were validated against the scales of `catalog` (the
    /// project's); an error naming the difference otherwise. A lake without answers, or
    /// written before the scales were recorded, passes.
    pub fn check_metrics(&self, catalog: &MetricCatalog, dir: &Path) -> Result<(), IngestError> {
        let now = catalog.validation_rules();
        match &self.metrics {
            Some(then) if *then != now && self.files.iter().any(|f| f.entity == RESPONSES) => {
                let only = |a: &[String], b: &[String]| {
                    let rules: Vec<&str> = a
                        .iter()
                        .filter(|r| !b.contains(r))
                        .map(String::as_str)
                        .collect();
                    rules.join("; ")
                };
                Err(IngestError::Config {
                    path: dir.join(MANIFEST),
                    message: format!(
                        "the lake's answers were validated against other metrics than the \
                         project's (the lake: {}; the project: {}): a changed, added or removed \
                         [metrics] declaration accepts other answers (answers of a metric \
                         unknown at ingest were rejected); ingest into a new lake folder",
                        only(then, &now),
                        only(&now, then)
                    ),
                })
            }
            _ => Ok(()),
        }
    }

    /// Whether the lake's months were cut in `timezone` (the project's); an error naming
    /// both otherwise.
    pub fn check_timezone(&self, timezone: &str, dir: &Path) -> Result<(), IngestError> {
        if self.timezone == timezone {
            return Ok(());
        }
        Err(IngestError::Config {
            path: dir.join(MANIFEST),
            message: format!(
                "the lake's dates are in timezone {}, the project's in {timezone}; ingest into \
                 a new lake folder",
                self.timezone
            ),
        })
    }
}

/// One input file in the lake.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LakeFile {
    /// The file as it was read (absolute path).
    pub path: String,
    /// `responses` or an entity name.
    pub entity: String,
    /// SHA-256 of the file's bytes, hex.
    pub sha256: String,
    /// SHA-256 of how it was read (the source's settings but its path, the timezone): the
    /// same bytes read otherwise are other rows.
    pub settings: String,
    pub bytes: u64,
    /// Modification time when ingested (seconds since the Unix epoch), to tell a changed file.
    pub modified: Option<i64>,
    /// When it was ingested (RFC 3339, UTC).
    pub ingested_at: String,
    /// The read's counts: `read = accepted + rejected`, ids already in the lake included.
    pub report: SourceReport,
    /// Segment columns of its rows.
    pub attributes: Vec<String>,
    pub parts: Vec<Part>,
    /// The CSV of its rejected rows, relative to the lake, when there are any.
    pub rejects: Option<String>,
}

/// One Parquet file of a lake.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Part {
    /// Relative to the lake folder.
    pub path: String,
    /// `YYYY-MM` of its rows' local dates; `None` for rows without a date.
    pub month: Option<String>,
    pub rows: u64,
}

/// What happened to one source in an ingest.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IngestedSource {
    pub file: String,
    pub entity: String,
    /// `added`; `skipped` when the same content is already in the lake; `live` for a source
    /// that is not a file (cxray's store), which analyses of the lake read as it is then.
    pub status: &'static str,
    /// For a skipped file, the file in the lake with the same content.
    pub same_as: Option<String>,
    pub counts: Counts,
    /// Rows rejected because their id is already in the lake (in `counts.rejected`).
    pub duplicates_in_lake: u64,
    pub parts: usize,
    pub bytes_written: u64,
}

impl IngestedSource {
    /// A source not read by this ingest (`live` or `skipped`).
    fn unread(path: &Path, entity: String, status: &'static str, same_as: Option<String>) -> Self {
        IngestedSource {
            file: path.display().to_string(),
            entity,
            status,
            same_as,
            counts: Counts::default(),
            duplicates_in_lake: 0,
            parts: 0,
            bytes_written: 0,
        }
    }
}

/// What an ingest did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IngestReport {
    pub lake: String,
    pub sources: Vec<IngestedSource>,
    /// Counts of the files added by this ingest.
    pub totals: Counts,
    /// Input files in the lake after it.
    pub files_in_lake: usize,
    /// Rows rejected by this ingest (also in the lake's `rejects/` files).
    #[serde(skip)]
    pub rejects: Vec<Reject>,
}

/// Validates every file source of `cfg` into the lake at `dir` (created when missing).
pub fn ingest(
    cfg: &Sources,
    catalog: &MetricCatalog,
    dir: &Path,
    opts: &LoadOptions,
) -> Result<IngestReport, IngestError> {
    cfg.validate()?;
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let _lock = lock(dir)?;
    let mut manifest = match read_manifest(dir)? {
        Some(m) => {
            m.check_timezone(&cfg.timezone, dir)?;
            m.check_metrics(catalog, dir)?;
            m
        }
        None if std::fs::read_dir(dir)
            .map_err(|e| io(dir, e))?
            .flatten()
            .any(|e| !matches!(e.file_name().to_str(), Some(".lock" | "manifest.json.tmp"))) =>
        {
            return Err(IngestError::Config {
                path: dir.to_path_buf(),
                message: "this folder holds files but no lake (no manifest.json): give an \
                          empty or new folder for the lake"
                    .into(),
            });
        }
        None => Manifest {
            format: FORMAT.into(),
            schema_version: SCHEMA_VERSION,
            timezone: cfg.timezone.clone(),
            files: vec![],
            seen: vec![],
            metrics: None,
        },
    };
    // A lake written before the scales were recorded keeps not knowing them: its answers
    // were validated against scales no one wrote down.
    if manifest.metrics.is_some() || !manifest.files.iter().any(|f| f.entity == RESPONSES) {
        manifest.metrics = Some(catalog.validation_rules());
    }
    remove_unlisted(dir, &manifest)?;
    let mut report = IngestReport {
        lake: dir.display().to_string(),
        sources: vec![],
        totals: Counts::default(),
        files_in_lake: 0,
        rejects: vec![],
    };
    for src in &cfg.list {
        let path = absolute(&cfg.resolve(&src.path));
        let entity = match src.entity.as_deref() {
            None => None,
            Some(e) if e.eq_ignore_ascii_case(RESPONSES) => None,
            Some(e) => Entity::parse(e),
        };
        let entity_name = entity.map_or(RESPONSES, Entity::name).to_string();
        if src.content.is_some() {
            // cxray's store changes while it serves: analyses of the lake read it live.
            report
                .sources
                .push(IngestedSource::unread(&path, entity_name, "live", None));
            continue;
        }
        let (sha256, bytes, modified) = hash_file(&path)?;
        let settings = settings_hash(src, &cfg.timezone);
        let path_name = path.display().to_string();
        if let Some(f) = manifest
            .files
            .iter()
            .find(|f| f.sha256 == sha256 && f.entity == entity_name)
        {
            if f.settings != settings {
                return Err(IngestError::Config {
                    path,
                    message: format!(
                        "this content was ingested from {} with other settings (columns, \
                         formats, timezone); to read it anew, write a new lake",
                        f.path
                    ),
                });
            }
            // Remembered as it is now, so that the staleness check knows it.
            manifest.seen.retain(|s| s.path != path_name);
            manifest.seen.push(Seen {
                path: path_name.clone(),
                bytes,
                modified,
            });
            write_manifest(dir, &manifest)?;
            let same_as = Some(f.path.clone());
            report.sources.push(IngestedSource::unread(
                &path,
                entity_name,
                "skipped",
                same_as,
            ));
            continue;
        }
        let k = manifest.files.len();
        // Room for the live sources read beside the lake's files.
        if k >= MAX_FILES {
            return Err(IngestError::Config {
                path: dir.to_path_buf(),
                message: format!("a lake holds at most {MAX_FILES} input files"),
            });
        }
        let k16 = k as u16;
        let one = Sources {
            list: vec![src.clone()],
            ..cfg.clone()
        };
        let mut read = match entity {
            None => read_responses(&one, catalog, opts)?,
            Some(e) => read_entity(&one, e, k16, opts)?,
        };
        // The file must be what was hashed.
        let now = std::fs::metadata(&path).map_err(|e| io(&path, e))?;
        if now.len() != bytes || modified_secs(&now) != modified {
            return Err(IngestError::Io {
                path,
                message: "the file changed while it was ingested; ingest again".into(),
            });
        }
        let earlier = manifest.files.iter().any(|f| f.path == path_name);
        if read.id_column.is_none() && earlier {
            // Without ids, the rows of the earlier version cannot be told from new ones.
            return Err(IngestError::Config {
                path,
                message: format!(
                    "this file was ingested before with other content, and its {entity_name} \
                     rows have no id from the file that would tell the rows already in the \
                     lake from new ones; ingest new rows as a file of their own, or write a \
                     new lake"
                ),
            });
        }
        let had_entity = manifest.files.iter().any(|f| f.entity == entity_name);
        let mut duplicates = 0;
        let mut ids = new_ids(&read);
        if let (Some(new), true) = (ids.as_mut(), had_entity) {
            let (again, others) = reject_known(
                dir,
                &manifest,
                &entity_name,
                &path_name,
                &mut read,
                new,
                opts.threads,
            )?;
            duplicates = others;
            if again > 0 {
                // Rows of an earlier version of this file: in the lake, not read anew.
                read.report.counts.read -= again;
                read.report.counts.records = read.report.counts.records.saturating_sub(again);
                read.report.counts.accepted -= again;
                read.report.notes.push(format!(
                    "{again} rows already in the lake from an earlier version of this file"
                ));
            }
        }
        read.report.counts.accepted -= duplicates;
        read.report.counts.rejected += duplicates;
        read.report.duplicates += duplicates;
        debug_assert_eq!(
            read.report.counts.read,
            read.report.counts.accepted + read.report.counts.rejected
        );
        if opts.strict && !read.rejects.is_empty() {
            return Err(IngestError::Strict {
                rejected: read.report.counts.rejected,
                first: read.rejects[0].to_string(),
            });
        }
        let parts = write_parts(dir, &entity_name, k, &read, opts.threads)?;
        if let Some(new) = &ids {
            lake_ids::write_run(
                dir,
                &lake_ids::run_path(&entity_name, k),
                &sha256,
                new.iter().map(|n| n.hash),
            )?;
        }
        let rejects = match read.rejects.is_empty() {
            true => None,
            false => Some(write_rejects(dir, k, &read.rejects)?),
        };
        // The folders of the new files, then the lake's own, before the manifest names them.
        let mut folders: Vec<PathBuf> = parts
            .iter()
            .filter_map(|p| dir.join(&p.path).parent().map(Path::to_path_buf))
            .collect();
        folders.sort();
        folders.dedup();
        for f in folders.iter().chain(
            [
                dir.join(&entity_name),
                dir.join("rejects"),
                dir.join("ids").join(&entity_name),
                dir.join("ids"),
                dir.to_path_buf(),
            ]
            .iter(),
        ) {
            if f.exists() {
                sync_dir(f)?;
            }
        }
        let bytes_written = parts
            .iter()
            .map(|p| std::fs::metadata(dir.join(&p.path)).map_or(0, |m| m.len()))
            .sum();
        report.sources.push(IngestedSource {
            file: path.display().to_string(),
            entity: entity_name.clone(),
            status: "added",
            same_as: None,
            counts: read.report.counts,
            duplicates_in_lake: duplicates,
            parts: parts.len(),
            bytes_written,
        });
        report.totals.add(&read.report.counts);
        manifest.seen.retain(|s| s.path != path_name);
        manifest.files.push(LakeFile {
            path: path_name,
            entity: entity_name,
            sha256,
            settings,
            bytes,
            modified,
            ingested_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            report: read.report,
            attributes: read.attributes,
            parts,
            rejects,
        });
        write_manifest(dir, &manifest)?;
        report.rejects.extend(read.rejects);
    }
    report.files_in_lake = manifest.files.len();
    Ok(report)
}

/// One input file, validated, before it is written.
struct Validated {
    schema: Arc<Schema>,
    batches: Vec<RecordBatch>,
    /// Input line of each row, one buffer per batch.
    lines: Vec<ScalarBuffer<u64>>,
    rejects: Vec<Reject>,
    report: SourceReport,
    attributes: Vec<String>,
    /// The column of ids that must be unique, if any.
    id_column: Option<usize>,
    /// The column of ids the lake's id index holds (given or made from the file's lines).
    run_column: Option<usize>,
    id_name: &'static str,
    date_column: usize,
}

fn read_responses(
    one: &Sources,
    catalog: &MetricCatalog,
    opts: &LoadOptions,
) -> Result<Validated, IngestError> {
    let keep_all = LoadOptions {
        attributes: None,
        strict: false,
        ..opts.clone()
    };
    let read = crate::load_responses_with_lines(one, catalog, &keep_all)?;
    let loaded = read.loaded;
    let report = loaded.sources.into_iter().next().expect("one source read");
    // Ids made of the file's name and line say nothing across files.
    let ids_given = read.ids_given.first().copied().unwrap_or(false);
    Ok(Validated {
        schema: loaded.schema,
        batches: loaded.batches,
        lines: read.lines,
        rejects: loaded.rejects,
        report,
        attributes: loaded.attributes,
        id_column: ids_given.then_some(0),
        run_column: Some(0),
        id_name: "response_id",
        date_column: 3,
    })
}

fn read_entity(
    one: &Sources,
    entity: Entity,
    k: u16,
    opts: &LoadOptions,
) -> Result<Validated, IngestError> {
    let t = crate::load_entity(one, entity, opts.threads)?.expect("the source is of the entity");
    let line_col = t
        .schema
        .index_of("source_line")
        .expect("entity tables have lines");
    let file_col = t
        .schema
        .index_of("source_file")
        .expect("entity tables have files");
    let mut batches = Vec::with_capacity(t.batches.len());
    let mut lines = Vec::with_capacity(t.batches.len());
    for b in t.batches {
        let l = b
            .column(line_col)
            .as_any()
            .downcast_ref::<arrow::array::UInt64Array>()
            .expect("source_line is UInt64")
            .values()
            .clone();
        lines.push(l);
        // The row's file is its place in the lake's manifest.
        let mut cols = b.columns().to_vec();
        cols[file_col] = Arc::new(UInt16Array::from(vec![k; b.num_rows()]));
        batches.push(RecordBatch::try_new(b.schema(), cols).expect("same columns"));
    }
    let id_name = entity.id_field();
    let id_column = id_name.map(|n| t.schema.index_of(n).expect("id column in schema"));
    Ok(Validated {
        id_column,
        run_column: id_column,
        id_name: id_name.unwrap_or(""),
        date_column: t
            .schema
            .index_of("local_date")
            .expect("entity tables have dates"),
        report: t.sources.into_iter().next().expect("one source read"),
        schema: t.schema,
        batches,
        lines,
        rejects: t.rejects,
        attributes: t.attributes,
    })
}

/// The sorted hashes of a validated file's ids (given or made from its lines), when its
/// entity has ids: what its run in the lake's id index holds.
fn new_ids(read: &Validated) -> Option<Vec<NewId>> {
    let col = read.run_column?;
    let cols: Vec<&StringArray> = read
        .batches
        .iter()
        .map(|b| {
            b.column(col)
                .as_any()
                .downcast_ref::<StringArray>()
                .expect("ids are Utf8")
        })
        .collect();
    Some(lake_ids::hash_ids(cols.into_iter()))
}

/// Drops the rows whose id (one from the file: none without) an earlier file of the lake
/// holds, and their hashes from `new`. A row from an earlier version of the same file is
/// simply already there; any other is a duplicate, rejected with the file that holds the
/// first. Returns how many of each.
///
/// Each earlier file's run of hashes is merged with `new`; the ids a run may hold are then
/// confirmed on the text of that file's ids, so memory holds the new file's ids and the
/// candidates, not the lake's ids.
fn reject_known(
    dir: &Path,
    manifest: &Manifest,
    entity: &str,
    file: &str,
    read: &mut Validated,
    new: &mut Vec<NewId>,
    threads: usize,
) -> Result<(u64, u64), IngestError> {
    let Some(id) = read.id_column else {
        return Ok((0, 0));
    };
    let earlier: Vec<usize> = manifest
        .files
        .iter()
        .enumerate()
        .filter(|(_, f)| f.entity == entity)
        .map(|(j, _)| j)
        .collect();
    // Each earlier file's run, opened, merged with the new ids and closed in turn.
    let id_name = read.id_name;
    let fresh: &[NewId] = new;
    let candidates: Vec<Vec<usize>> =
        parallel(earlier.len(), threads, |r| -> Result<_, IngestError> {
            let f = &manifest.files[earlier[r]];
            let rel = lake_ids::run_path(entity, earlier[r]);
            let run = match lake_ids::Run::open(dir, &rel, &f.sha256)? {
                Some(run) => run,
                None => {
                    // A lake written before runs existed, or a run lost: built from the parts.
                    let cols = file_ids(dir, f, id_name)?;
                    let hashes = lake_ids::hash_ids(cols.iter());
                    lake_ids::write_run(dir, &rel, &f.sha256, hashes.iter().map(|n| n.hash))?;
                    lake_ids::Run::open(dir, &rel, &f.sha256)?.ok_or_else(|| IngestError::Io {
                        path: dir.join(&rel),
                        message: "the id index just written cannot be read back".into(),
                    })?
                }
            };
            Ok(run.matches(fresh))
        })
        .into_iter()
        .collect::<Result<_, IngestError>>()?;
    let column = |b: u32| {
        read.batches[b as usize]
            .column(id)
            .as_any()
            .downcast_ref::<StringArray>()
            .expect("ids are Utf8")
    };
    // The file that holds each id found, the earliest first.
    let mut origin: HashMap<usize, usize> = HashMap::new();
    for (c, &j) in candidates.iter().zip(&earlier) {
        let open: Vec<usize> = c
            .iter()
            .copied()
            .filter(|i| !origin.contains_key(i))
            .collect();
        if open.is_empty() {
            continue;
        }
        let cols = file_ids(dir, &manifest.files[j], read.id_name)?;
        let text = |n: &NewId| column(n.batch).value(n.row as usize);
        for i in lake_ids::confirm(
            new,
            &open,
            cols.iter().flat_map(|a| a.iter().flatten()),
            text,
        ) {
            origin.insert(i, j);
        }
    }
    if origin.is_empty() {
        return Ok((0, 0));
    }
    let mut found: Vec<(u32, u32, usize)> = origin
        .iter()
        .map(|(&i, &j)| (new[i].batch, new[i].row, j))
        .collect();
    found.sort_unstable();
    let mut again = 0;
    let mut rejected = 0;
    let mut keep: Vec<Vec<bool>> = read
        .batches
        .iter()
        .map(|b| vec![true; b.num_rows()])
        .collect();
    let mut rejects = Vec::new();
    for &(b, r, j) in &found {
        keep[b as usize][r as usize] = false;
        let f = &manifest.files[j];
        if f.path == file {
            again += 1;
            continue;
        }
        rejected += 1;
        rejects.push(Reject {
            file: file.to_string(),
            line: read.lines[b as usize][r as usize],
            column: read.id_name.to_string(),
            value: crate::rejects::clip_value(column(b).value(r as usize)),
            reason: format!(
                "duplicate {}: already in the lake from {}; the first is kept",
                read.id_name, f.path
            ),
            answers: 1,
        });
    }
    read.rejects.extend(rejects);
    let mut i = 0;
    new.retain(|_| {
        i += 1;
        !origin.contains_key(&(i - 1))
    });
    for ((b, lines), keep) in read.batches.iter_mut().zip(read.lines.iter_mut()).zip(keep) {
        crate::keep_rows(b, lines, keep);
    }
    Ok((again, rejected))
}

/// The ids of one input file's rows in the lake (its parts' `id_name` column).
fn file_ids(dir: &Path, f: &LakeFile, id_name: &str) -> Result<Vec<StringArray>, IngestError> {
    let mut out = Vec::new();
    for part in &f.parts {
        for b in read_part(dir, part, Some(&[id_name]))? {
            let ids = (b.num_columns() == 1)
                .then(|| b.column(0).as_any().downcast_ref::<StringArray>())
                .flatten();
            match ids {
                Some(a) => out.push(a.clone()),
                None => {
                    return Err(IngestError::Format {
                        path: dir.join(&part.path),
                        message: format!("no {id_name} column of text; ingest anew"),
                    });
                }
            }
        }
    }
    Ok(out)
}

/// Writes an input file's rows as one Parquet part per month, on `threads` threads.
fn write_parts(
    dir: &Path,
    entity: &str,
    k: usize,
    read: &Validated,
    threads: usize,
) -> Result<Vec<Part>, IngestError> {
    let mut months: BTreeMap<Option<i32>, Vec<RecordBatch>> = BTreeMap::new();
    for b in &read.batches {
        let days = b
            .column(read.date_column)
            .as_any()
            .downcast_ref::<Date32Array>()
            .expect("local_date is Date32");
        let mut rows: BTreeMap<Option<i32>, Vec<u32>> = BTreeMap::new();
        let mut last: Option<(i32, i32)> = None;
        for r in 0..days.len() {
            let key = if days.is_null(r) {
                None
            } else {
                let d = days.value(r);
                Some(match last {
                    // Rows of a month usually come together: a day of the last month is
                    // that month without a calendar computation.
                    Some((from, m)) if d >= from && d < from + 28 => m,
                    _ => {
                        let m = month_of(d);
                        last = Some((month_start(m), m));
                        m
                    }
                })
            };
            rows.entry(key).or_default().push(r as u32);
        }
        for (key, idx) in rows {
            let taken = if idx.len() == b.num_rows() {
                b.clone()
            } else {
                arrow::compute::take_record_batch(b, &UInt32Array::from(idx))
                    .expect("indices in range")
            };
            months.entry(key).or_default().push(taken);
        }
    }
    let months: Vec<(Option<i32>, Vec<RecordBatch>)> = months.into_iter().collect();
    let written: Vec<Result<Part, IngestError>> = parallel(months.len(), threads, |i| {
        let (key, batches) = &months[i];
        let month = key.map(month_name);
        let rel = match &month {
            Some(m) => format!("{entity}/month={m}/part-{k:05}.parquet"),
            None => format!("{entity}/part-{k:05}.parquet"),
        };
        let path = dir.join(&rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
        }
        let f = std::fs::File::create(&path).map_err(|e| io(&path, e))?;
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(
                ZstdLevel::try_new(3).expect("valid level"),
            ))
            .build();
        let mut w = ArrowWriter::try_new(BufWriter::new(f), read.schema.clone(), Some(props))
            .map_err(|e| io(&path, e))?;
        let mut rows = 0;
        for b in batches {
            rows += b.num_rows() as u64;
            w.write(b).map_err(|e| io(&path, e))?;
        }
        let f = w
            .into_inner()
            .map_err(|e| io(&path, e))?
            .into_inner()
            .map_err(|e| io(&path, e.into_error()))?;
        f.sync_all().map_err(|e| io(&path, e))?;
        Ok(Part {
            path: rel,
            month,
            rows,
        })
    });
    written.into_iter().collect()
}

/// Writes the rejects of input file `k` (synced); returns their path in the lake.
fn write_rejects(dir: &Path, k: usize, rejects: &[Reject]) -> Result<String, IngestError> {
    let rel = format!("rejects/part-{k:05}.csv");
    let p = dir.join(&rel);
    std::fs::create_dir_all(dir.join("rejects")).map_err(|e| io(dir, e))?;
    let f = std::fs::File::create(&p).map_err(|e| io(&p, e))?;
    let mut w = BufWriter::new(f);
    crate::write_rejects_csv(&mut w, rejects).map_err(|e| io(&p, e))?;
    let f = w.into_inner().map_err(|e| io(&p, e.into_error()))?;
    f.sync_all().map_err(|e| io(&p, e))?;
    Ok(rel)
}

/// The months (`YYYY-MM`, inclusive) of the local dates `from..=to`, when either is given.
fn months(
    from: Option<chrono::NaiveDate>,
    to: Option<chrono::NaiveDate>,
) -> Option<(String, String)> {
    let name = |d: chrono::NaiveDate| d.format("%Y-%m").to_string();
    (from.is_some() || to.is_some()).then(|| {
        (
            from.map_or_else(|| "0000-00".into(), name),
            to.map_or_else(|| "9999-99".into(), name),
        )
    })
}

/// Months since year 0 of a day number (days since 1970-01-01).
fn month_of(days: i32) -> i32 {
    use chrono::Datelike;
    let d = crate::timestamp::days_to_date(days);
    d.year() * 12 + d.month0() as i32
}

fn month_start(m: i32) -> i32 {
    let d = chrono::NaiveDate::from_ymd_opt(m.div_euclid(12), m.rem_euclid(12) as u32 + 1, 1)
        .expect("a valid month");
    (d - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")).num_days() as i32
}

fn month_name(m: i32) -> String {
    format!("{:04}-{:02}", m.div_euclid(12), m.rem_euclid(12) + 1)
}

/// Holds the lake's lock file for the whole ingest: a second ingest into the same lake stops
/// with a clear error instead of writing the same parts. The operating system releases the
/// lock when the process ends, also when it is killed.
fn lock(dir: &Path) -> Result<std::fs::File, IngestError> {
    let path = dir.join(".lock");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| io(&path, e))?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(std::fs::TryLockError::WouldBlock) => Err(IngestError::Io {
            path: dir.to_path_buf(),
            message: "another `cxray ingest` is writing this lake; wait for it to finish".into(),
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(io(&path, e)),
    }
}

/// SHA-256 of how a source is read: its settings but its path, and the project's timezone.
/// (Not the metric declarations: a new built-in metric would make every lake look changed.)
fn settings_hash(src: &SourceConfig, timezone: &str) -> String {
    let mut h = sha2::Sha256::new();
    let without_path = SourceConfig {
        path: PathBuf::new(),
        content: None,
        ..src.clone()
    };
    h.update(serde_json::to_string(&without_path).expect("settings serialise"));
    h.update(timezone.as_bytes());
    hex(&h.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Syncs a folder, so that the files created in it survive a crash.
fn sync_dir(dir: &Path) -> Result<(), IngestError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io(dir, e))
}

/// The canonical absolute path of a file (as given when it cannot be resolved).
fn absolute(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

/// SHA-256, size and modification time of a file.
fn hash_file(path: &Path) -> Result<(String, u64, Option<i64>), IngestError> {
    let mut f = crate::open_file(path)?;
    let meta = f.metadata().map_err(|e| io(path, e))?;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(|e| io(path, e))?;
        if n == 0 {
            break;
        }
        bytes += n as u64;
        h.update(&buf[..n]);
    }
    Ok((hex(&h.finalize()), bytes, modified_secs(&meta)))
}

fn modified_secs(meta: &std::fs::Metadata) -> Option<i64> {
    let t = meta.modified().ok()?;
    let d = t.duration_since(std::time::UNIX_EPOCH).ok()?;
    i64::try_from(d.as_secs()).ok()
}

fn io(path: &Path, e: impl std::fmt::Display) -> IngestError {
    IngestError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// The manifest of the lake at `dir`, `None` when there is none yet.
pub fn read_manifest(dir: &Path) -> Result<Option<Manifest>, IngestError> {
    let path = dir.join(MANIFEST);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(&path, e)),
    };
    let m: Manifest = serde_json::from_str(&text).map_err(|e| IngestError::Format {
        path: path.clone(),
        message: format!("not a cxray lake manifest: {e}"),
    })?;
    if m.format != FORMAT || m.schema_version != SCHEMA_VERSION {
        return Err(IngestError::Format {
            path,
            message: format!(
                "a lake of format {} version {}; this cxray reads {FORMAT} version \
                 {SCHEMA_VERSION}: ingest again into a new folder",
                m.format, m.schema_version
            ),
        });
    }
    Ok(Some(m))
}

/// Replaces the manifest atomically (a temporary file, synced, renamed, folder synced).
fn write_manifest(dir: &Path, m: &Manifest) -> Result<(), IngestError> {
    let path = dir.join(MANIFEST);
    let tmp = dir.join("manifest.json.tmp");
    let text = serde_json::to_string_pretty(m).expect("a manifest serialises");
    let mut f = std::fs::File::create(&tmp).map_err(|e| io(&tmp, e))?;
    f.write_all(text.as_bytes()).map_err(|e| io(&tmp, e))?;
    f.sync_all().map_err(|e| io(&tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| io(&path, e))?;
    sync_dir(dir)
}

/// Removes the parts, rejects and id runs that an ingest stopped before its manifest was written
/// left: the lake's own names (`part-NNNNN`) with a number the manifest has not given yet, and
/// runs half written.
fn remove_unlisted(dir: &Path, m: &Manifest) -> Result<(), IngestError> {
    let listed: std::collections::HashSet<PathBuf> = m
        .files
        .iter()
        .flat_map(|f| {
            f.parts
                .iter()
                .map(|p| dir.join(&p.path))
                .chain(f.rejects.iter().map(|r| dir.join(r)))
        })
        .collect();
    let names = || Entity::ALL.iter().map(|e| e.name()).chain([RESPONSES]);
    let mut folders: Vec<PathBuf> = names()
        .map(|e| dir.join(e))
        .chain(names().map(|e| dir.join("ids").join(e)))
        .chain([dir.join("rejects")])
        .collect();
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if p.is_dir() && name.starts_with("month=") {
                folders.push(p);
            } else if name.starts_with("part-") && name.ends_with(".ids.tmp") {
                std::fs::remove_file(&p).map_err(|e| io(&p, e))?;
            } else if part_number(&name).is_some_and(|k| k >= m.files.len()) && !listed.contains(&p)
            {
                std::fs::remove_file(&p).map_err(|e| io(&p, e))?;
            }
        }
    }
    Ok(())
}

/// The number of a part or rejects file the lake writes (`part-00042.parquet` → 42).
fn part_number(name: &str) -> Option<usize> {
    let stem = name.strip_prefix("part-")?;
    let digits = [".parquet", ".csv", ".ids"]
        .iter()
        .find_map(|ext| stem.strip_suffix(ext))?;
    (digits.len() == 5 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

/// Reads a part's batches, only the named columns when `columns` is given.
fn read_part(
    dir: &Path,
    part: &Part,
    columns: Option<&[&str]>,
) -> Result<Vec<RecordBatch>, IngestError> {
    let path = dir.join(&part.path);
    let f = crate::open_file(&path)?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(f).map_err(|e| io(&path, e))?;
    let builder = match columns {
        Some(names) => {
            let schema = builder.schema().clone();
            let idx: Vec<usize> = names
                .iter()
                .filter_map(|n| schema.index_of(n).ok())
                .collect();
            let mask = parquet::arrow::ProjectionMask::roots(
                builder.parquet_schema(),
                idx.iter().copied(),
            );
            builder.with_projection(mask)
        }
        None => builder,
    };
    let reader = builder
        .with_batch_size(64 * 1024)
        .build()
        .map_err(|e| io(&path, e))?;
    reader
        .map(|b| b.map_err(|e| io(&path, e)))
        .collect::<Result<Vec<_>, _>>()
}

/// The answers to read from a lake: their reports (no rows yet) and their parts, each with the
/// manifest index of its file.
struct ResponsesScan<'a> {
    loaded: Loaded,
    parts: Vec<(usize, &'a Part)>,
}

/// A lake opened for reading.
#[derive(Debug, Clone)]
pub struct Lake {
    dir: PathBuf,
    manifest: Manifest,
    /// Each entity's rejects, read from their CSV files once: every analysis that scans an
    /// entity asks for them (its report and strict mode).
    rejects: Arc<std::sync::Mutex<HashMap<String, Arc<Vec<Reject>>>>>,
}

impl Lake {
    /// Opens the lake at `dir`; an error when there is none.
    pub fn open(dir: &Path) -> Result<Lake, IngestError> {
        match read_manifest(dir)? {
            Some(manifest) => Ok(Lake {
                dir: dir.to_path_buf(),
                manifest,
                rejects: Default::default(),
            }),
            None => Err(IngestError::Io {
                path: dir.to_path_buf(),
                message: "no cxray lake here (no manifest.json): write one with `cxray ingest`"
                    .into(),
            }),
        }
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether the lake holds rows of `entity` (`responses` or an entity name).
    pub fn has(&self, entity: &str) -> bool {
        self.manifest.files.iter().any(|f| f.entity == entity)
    }

    /// Sources of the configuration that the lake does not hold as they are now: files not
    /// ingested, or changed since (by size or modification time; no file is read).
    pub fn stale(&self, cfg: &Sources) -> Vec<String> {
        let mut out = vec![];
        for s in cfg.list.iter().filter(|s| s.content.is_none()) {
            let path = absolute(&cfg.resolve(&s.path));
            let name = path.display().to_string();
            let ingested: Vec<&LakeFile> = self
                .manifest
                .files
                .iter()
                .filter(|f| f.path == name)
                .collect();
            let known = ingested
                .last()
                .map(|f| (f.bytes, f.modified))
                .into_iter()
                .chain(
                    self.manifest
                        .seen
                        .iter()
                        .filter(|s| s.path == name)
                        .map(|s| (s.bytes, s.modified)),
                )
                .collect::<Vec<_>>();
            if known.is_empty() {
                out.push(format!("{name} is not in the lake"));
                continue;
            }
            match std::fs::metadata(&path) {
                Err(_) => out.push(format!(
                    "{name} is missing (its rows in the lake are still read)"
                )),
                Ok(meta) if !known.contains(&(meta.len(), modified_secs(&meta))) => {
                    out.push(format!("{name} changed after it was ingested"))
                }
                Ok(_) => {}
            }
        }
        out
    }

    /// The files of `entity` with their place in the manifest.
    fn files_of<'a>(&'a self, entity: &'a str) -> impl Iterator<Item = (usize, &'a LakeFile)> {
        self.manifest
            .files
            .iter()
            .enumerate()
            .filter(move |(_, f)| f.entity == entity)
    }

    /// The parts of `entity`'s files in manifest order, with the index of their file; with
    /// `months`, only the parts of those months (`YYYY-MM`, inclusive) and those without a
    /// month.
    fn parts_of<'a>(
        &'a self,
        entity: &'a str,
        months: Option<&(String, String)>,
    ) -> Vec<(usize, &'a Part)> {
        let wanted = |p: &Part| match (months, &p.month) {
            (Some((from, to)), Some(m)) => from <= m && m <= to,
            _ => true,
        };
        self.files_of(entity)
            .flat_map(|(k, f)| f.parts.iter().filter(|p| wanted(p)).map(move |p| (k, p)))
            .collect()
    }

    /// Reads every part of `entity`'s files in parallel, in manifest order.
    fn read_parts(
        &self,
        entity: &str,
        threads: usize,
    ) -> Result<Vec<(usize, Vec<RecordBatch>)>, IngestError> {
        let parts = self.parts_of(entity, None);
        parallel(parts.len(), threads, |i| {
            read_part(&self.dir, parts[i].1, None).map(|b| (parts[i].0, b))
        })
        .into_iter()
        .collect()
    }

    /// The rejects of `entity`'s files, as recorded when they were ingested (read once).
    fn rejects(&self, entity: &str) -> Result<Vec<Reject>, IngestError> {
        let cached = self
            .rejects
            .lock()
            .expect("the rejects cache")
            .get(entity)
            .cloned();
        if let Some(r) = cached {
            return Ok(r.as_ref().clone());
        }
        let mut out = vec![];
        for (_, f) in self.files_of(entity) {
            if let Some(rel) = &f.rejects {
                out.extend(read_rejects_csv(&self.dir.join(rel))?);
            }
        }
        self.rejects
            .lock()
            .expect("the rejects cache")
            .insert(entity.to_string(), Arc::new(out.clone()));
        Ok(out)
    }

    /// The answers in the lake (`None` when it has none), with only the segment columns in
    /// `opts.attributes` when given; as [`crate::load_responses`] returns them.
    pub fn responses(&self, opts: &LoadOptions) -> Result<Option<Loaded>, IngestError> {
        self.responses_between(opts, None, None)
    }

    /// [`Lake::responses`], reading only the months that hold answers of the local dates
    /// `from..=to` (answers of those months outside the dates are read too: the caller
    /// filters by date). The counts are still those of the files.
    pub fn responses_between(
        &self,
        opts: &LoadOptions,
        from: Option<chrono::NaiveDate>,
        to: Option<chrono::NaiveDate>,
    ) -> Result<Option<Loaded>, IngestError> {
        let Some(scan) = self.responses_scan(opts, from, to)? else {
            return Ok(None);
        };
        let mut loaded = scan.loaded;
        let columns: Vec<&str> = FIXED_COLUMNS
            .iter()
            .copied()
            .chain(loaded.attributes.iter().map(String::as_str))
            .collect();
        let parts = &scan.parts;
        let read = parallel(parts.len(), opts.threads, |i| {
            read_part(&self.dir, parts[i].1, Some(&columns)).map(|b| (parts[i].0, b))
        });
        for r in read {
            let (k, bs) = r?;
            let names = self.attributes_in(k, &loaded.attributes);
            for b in bs {
                self.check(&b, &loaded.schema, FIXED_COLUMNS.len(), names.len())?;
                let b = crate::conform(b, &names, &loaded.attributes, &loaded.schema);
                loaded.batches.push(b);
            }
        }
        Ok(Some(loaded))
    }

    /// The answers of the months holding the local dates `from..=to` as Parquet files for a
    /// query engine to scan, without reading a row: the table's schema (the union of the
    /// files' segment columns; a part without one of them reads it as nulls), the part files,
    /// and the counts, reports and rejects of the files (`Loaded` with no batches). `None`
    /// when the lake holds no answers.
    pub fn responses_parts(
        &self,
        opts: &LoadOptions,
        from: Option<chrono::NaiveDate>,
        to: Option<chrono::NaiveDate>,
    ) -> Result<Option<(Loaded, Vec<PathBuf>)>, IngestError> {
        let Some(scan) = self.responses_scan(opts, from, to)? else {
            return Ok(None);
        };
        let files = self.part_files(&scan.parts)?;
        Ok(Some((scan.loaded, files)))
    }

    /// The paths of `parts`, each checked to be there: a query engine lists a missing file as
    /// an empty folder, and its rows would be lost.
    fn part_files(&self, parts: &[(usize, &Part)]) -> Result<Vec<PathBuf>, IngestError> {
        parts
            .iter()
            .map(|(_, p)| {
                let path = self.dir.join(&p.path);
                match path.is_file() {
                    true => Ok(path),
                    false => Err(self.corrupt(format!("the part {} is missing", p.path))),
                }
            })
            .collect()
    }

    /// `entity`'s rows of the months holding the local dates `from..=to` as Parquet files for
    /// a query engine to scan, as [`Lake::responses_parts`] gives the answers: the table
    /// (schema, reports and rejects, no rows) that [`Lake::entity`] would read, and its parts.
    /// Parts of rows without a date are always among them. `None` when the lake has no such
    /// rows.
    pub fn entity_parts(
        &self,
        entity: Entity,
        from: Option<chrono::NaiveDate>,
        to: Option<chrono::NaiveDate>,
    ) -> Result<Option<(EntityTable, Vec<PathBuf>)>, IngestError> {
        let name = entity.name();
        if !self.has(name) {
            return Ok(None);
        }
        let attributes = crate::union_of(self.files_of(name).map(|(_, f)| &f.attributes));
        let (sources, totals) = self.reports(name);
        let files = self.part_files(&self.parts_of(name, months(from, to).as_ref()))?;
        let table = EntityTable {
            entity,
            schema: entity_schema(entity, &attributes),
            batches: vec![],
            rejects: self.rejects(name)?,
            sources,
            totals,
            attributes,
            files: self.manifest.files.iter().map(|f| f.path.clone()).collect(),
        };
        Ok(Some((table, files)))
    }

    /// What reading the answers of `from..=to` needs: their schema, reports and rejects (no
    /// rows yet), and the parts to read with the manifest index of their file.
    fn responses_scan(
        &self,
        opts: &LoadOptions,
        from: Option<chrono::NaiveDate>,
        to: Option<chrono::NaiveDate>,
    ) -> Result<Option<ResponsesScan<'_>>, IngestError> {
        if !self.has(RESPONSES) {
            return Ok(None);
        }
        let months = months(from, to);
        let mut attributes = crate::union_of(self.files_of(RESPONSES).map(|(_, f)| &f.attributes));
        if let Some(keep) = &opts.attributes {
            attributes.retain(|a| keep.contains(a));
        }
        let (sources, totals) = self.reports(RESPONSES);
        let rejects = self.rejects(RESPONSES)?;
        if opts.strict && !rejects.is_empty() {
            return Err(IngestError::Strict {
                rejected: totals.rejected,
                first: rejects[0].to_string(),
            });
        }
        Ok(Some(ResponsesScan {
            loaded: Loaded {
                schema: responses_schema(&attributes),
                batches: vec![],
                rejects,
                sources,
                totals,
                attributes,
            },
            parts: self.parts_of(RESPONSES, months.as_ref()),
        }))
    }

    /// The segment columns of the `k`-th input file that are among `attributes`, in the
    /// file's order (the order of its parts' columns).
    fn attributes_in(&self, k: usize, attributes: &[String]) -> Vec<String> {
        self.manifest.files[k]
            .attributes
            .iter()
            .filter(|a| attributes.contains(a))
            .cloned()
            .collect()
    }

    /// The rows of `entity` in the lake (`None` when it has none), as
    /// [`crate::load_entity`] returns them: `source_file` indexes the lake's input files.
    pub fn entity(
        &self,
        entity: Entity,
        threads: usize,
    ) -> Result<Option<EntityTable>, IngestError> {
        let name = entity.name();
        if !self.has(name) {
            return Ok(None);
        }
        let attributes = crate::union_of(self.files_of(name).map(|(_, f)| &f.attributes));
        let schema = entity_schema(entity, &attributes);
        let read = self.read_parts(name, threads)?;
        let mut batches = vec![];
        for (k, bs) in read {
            let names = &self.manifest.files[k].attributes;
            for b in bs {
                let fixed = entity.fields().len() + 3;
                self.check(&b, &schema, fixed, names.len())?;
                let files = b
                    .column(fixed - 1)
                    .as_any()
                    .downcast_ref::<UInt16Array>()
                    .expect("checked: source_file is UInt16");
                if arrow::compute::max(files)
                    .is_some_and(|f| f as usize >= self.manifest.files.len())
                {
                    return Err(self.corrupt(format!("{name}: a row of a file the manifest lacks")));
                }
                let cols = crate::entity::conform_entity(&b, entity, names, &attributes);
                batches.push(RecordBatch::try_new(schema.clone(), cols).map_err(|e| {
                    IngestError::Format {
                        path: self.dir.clone(),
                        message: e.to_string(),
                    }
                })?);
            }
        }
        let (sources, totals) = self.reports(name);
        Ok(Some(EntityTable {
            entity,
            schema,
            batches,
            rejects: self.rejects(name)?,
            sources,
            totals,
            attributes,
            files: self.manifest.files.iter().map(|f| f.path.clone()).collect(),
        }))
    }

    /// Whether a part's batch has the columns its manifest entry promises: the table's fixed
    /// columns (names and types as in `schema`), then `attributes` more.
    fn check(
        &self,
        b: &RecordBatch,
        schema: &Schema,
        fixed: usize,
        attributes: usize,
    ) -> Result<(), IngestError> {
        let got = b.schema();
        let fits = got.fields().len() == fixed + attributes
            && got.fields()[..fixed]
                .iter()
                .zip(&schema.fields()[..fixed])
                .all(|(g, w)| g.name() == w.name() && g.data_type() == w.data_type());
        match fits {
            true => Ok(()),
            false => Err(self.corrupt(format!(
                "a part's columns ({}) are not those of its table",
                got.fields()
                    .iter()
                    .map(|f| f.name().as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    fn corrupt(&self, message: String) -> IngestError {
        IngestError::Format {
            path: self.dir.join(MANIFEST),
            message: format!("the lake does not match its manifest: {message}; ingest anew"),
        }
    }

    /// The reports of `entity`'s files, the versions of one file as one (as a read of its
    /// latest version reports it), and their total counts.
    fn reports(&self, entity: &str) -> (Vec<SourceReport>, Counts) {
        let mut totals = Counts::default();
        let mut sources: Vec<SourceReport> = vec![];
        for (_, f) in self.files_of(entity) {
            totals.add(&f.report.counts);
            match sources.iter_mut().find(|s| s.file == f.report.file) {
                Some(s) => {
                    let r = &f.report;
                    s.counts.add(&r.counts);
                    s.duplicates += r.duplicates;
                    s.notes.extend(r.notes.iter().cloned());
                    s.first_date = s
                        .first_date
                        .clone()
                        .min(r.first_date.clone())
                        .or(s.first_date.clone().or(r.first_date.clone()));
                    s.last_date = s.last_date.clone().max(r.last_date.clone());
                }
                None => sources.push(f.report.clone()),
            }
        }
        (sources, totals)
    }
}

/// Reads a rejects CSV written by [`crate::write_rejects_csv`].
fn read_rejects_csv(path: &Path) -> Result<Vec<Reject>, IngestError> {
    let bad = |m: String| IngestError::Format {
        path: path.to_path_buf(),
        message: m,
    };
    let mut r = csv::Reader::from_path(path).map_err(|e| bad(e.to_string()))?;
    let mut out = vec![];
    for rec in r.records() {
        let rec = rec.map_err(|e| bad(e.to_string()))?;
        let field = |i: usize| rec.get(i).unwrap_or("").to_string();
        out.push(Reject {
            file: field(0),
            line: field(1)
                .parse()
                .map_err(|_| bad("a line is not a number".into()))?,
            column: field(2),
            value: field(3),
            reason: field(4),
            answers: field(5)
                .parse()
                .map_err(|_| bad("answers is not a number".into()))?,
        });
    }
    Ok(out)
}
