//! Operational entities beside survey responses: invitations, customers, tickets, lifecycle
//! events, contact-centre queue, journey events, referrals and social mentions.
//!
//! Each entity has a fixed set of canonical columns with a type (text, timestamp, number, count,
//! yes/no) and row rules that tie them together — a ticket cannot be resolved before it was
//! created, a handle time cannot be negative. A source is read the same way as responses (CSV
//! with any delimiter and encoding, NDJSON, Parquet), columns are mapped by `[sources.columns]`
//! or by their canonical names, every other column is kept as a segment attribute, and every row
//! that breaks a rule becomes a [`Reject`] with file, line, column, value and reason. For every
//! source `read = accepted + rejected`.
//!
//! The table holds the canonical columns in the order of [`Entity::fields`], then `local_date`
//! (the project-timezone date of the entity's main timestamp, for periods), `source_line` and
//! `source_file` (where each row came from, for timelines and later rejections), then the
//! attributes as text.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanBuilder, Float64Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use arrow::record_batch::RecordBatch;

use crate::config::{Format, SourceConfig, Sources};
use crate::error::IngestError;
use crate::rejects::{Reject, clip_value};
use crate::rows::{Cell, Counts, RawBatch, Reader, text_of};
use crate::timestamp::{TimeParser, parse_tz};
use crate::{CsvStart, SourceReport};
use IngestError as E;

/// The kinds of operational data cxray reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Entity {
    Invitations,
    Customers,
    Tickets,
    Lifecycle,
    Contacts,
    Journey,
    Referrals,
    Mentions,
}

/// The type of a canonical column.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Text,
    /// An instant, stored as UTC microseconds.
    Time,
    /// A number not below `min`.
    Number {
        min: f64,
    },
    /// A whole number not below `min`.
    Count {
        min: i64,
    },
    /// Yes/no: true/false, yes/no, y/n, 1/0, t/f.
    Flag,
}

/// A canonical column of an entity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FieldDef {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
    /// What the column means, for error messages and docs.
    pub about: &'static str,
}

const fn f(name: &'static str, kind: Kind, required: bool, about: &'static str) -> FieldDef {
    FieldDef {
        name,
        kind,
        required,
        about,
    }
}

const SECONDS: Kind = Kind::Number { min: 0.0 };

impl Entity {
    pub const ALL: [Entity; 8] = [
        Entity::Invitations,
        Entity::Customers,
        Entity::Tickets,
        Entity::Lifecycle,
        Entity::Contacts,
        Entity::Journey,
        Entity::Referrals,
        Entity::Mentions,
    ];

    /// The entity named in `entity = "…"` of a source (singular forms accepted).
    pub fn parse(s: &str) -> Option<Entity> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "invitations" | "invitation" | "invites" => Entity::Invitations,
            "customers" | "customer" => Entity::Customers,
            "tickets" | "ticket" => Entity::Tickets,
            "lifecycle" | "lifecycle_events" => Entity::Lifecycle,
            "contacts" | "contact" | "calls" | "queue" => Entity::Contacts,
            "journey" | "journeys" | "journey_events" => Entity::Journey,
            "referrals" | "referral" => Entity::Referrals,
            "mentions" | "mention" => Entity::Mentions,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Entity::Invitations => "invitations",
            Entity::Customers => "customers",
            Entity::Tickets => "tickets",
            Entity::Lifecycle => "lifecycle",
            Entity::Contacts => "contacts",
            Entity::Journey => "journey",
            Entity::Referrals => "referrals",
            Entity::Mentions => "mentions",
        }
    }

    /// What one row is, in plural, for messages ("read 1,200 tickets").
    pub fn noun(self) -> &'static str {
        match self {
            Entity::Invitations => "invitations",
            Entity::Customers => "customers",
            Entity::Tickets => "tickets",
            Entity::Lifecycle => "lifecycle events",
            Entity::Contacts => "queued contacts",
            Entity::Journey => "journey events",
            Entity::Referrals => "referrals",
            Entity::Mentions => "mentions",
        }
    }

    /// Canonical columns, in table order.
    pub fn fields(self) -> &'static [FieldDef] {
        use Kind::*;
        match self {
            Entity::Invitations => {
                const {
                    &[
                        f("customer_id", Text, true, "who was invited"),
                        f("survey", Text, false, "which survey"),
                        f("sent_at", Time, true, "when the invitation was sent"),
                    ]
                }
            }
            Entity::Customers => {
                const {
                    &[
                        f("customer_id", Text, true, "the customer"),
                        f("signup_at", Time, false, "when they became a customer"),
                        f(
                            "revenue",
                            Number {
                                min: f64::NEG_INFINITY,
                            },
                            false,
                            "revenue from the customer",
                        ),
                    ]
                }
            }
            Entity::Tickets => {
                const {
                    &[
                        f("ticket_id", Text, true, "the ticket"),
                        f("customer_id", Text, false, "who raised it"),
                        f("created_at", Time, true, "when it was opened"),
                        f("first_response_at", Time, false, "first agent reply"),
                        f(
                            "resolved_at",
                            Time,
                            false,
                            "when it was resolved (blank: open)",
                        ),
                        f(
                            "contacts",
                            Count { min: 1 },
                            false,
                            "contacts needed (1 = one touch)",
                        ),
                        f("reopened", Flag, false, "reopened after resolution"),
                        f("channel", Text, false, "email, chat, phone…"),
                        f("category", Text, false, "what it is about"),
                        f("agent", Text, false, "who handled it"),
                        f("handle_seconds", SECONDS, false, "agent working time"),
                        f("text", Text, false, "the customer's description"),
                        f(
                            "reopened_at",
                            Time,
                            false,
                            "when it was reopened (for the FCR window)",
                        ),
                    ]
                }
            }
            Entity::Lifecycle => {
                const {
                    &[
                        f("customer_id", Text, true, "the customer"),
                        f(
                            "event",
                            Text,
                            true,
                            "start, cancel, renew or an activity (order, booking, visit…)",
                        ),
                        f("at", Time, true, "when it happened"),
                    ]
                }
            }
            Entity::Contacts => {
                const {
                    &[
                        f(
                            "offered_at",
                            Time,
                            true,
                            "when the call or chat entered the queue",
                        ),
                        f(
                            "answered_at",
                            Time,
                            false,
                            "when an agent answered (blank: not answered)",
                        ),
                        f(
                            "abandoned",
                            Flag,
                            false,
                            "the caller hung up before an answer",
                        ),
                        f("wait_seconds", SECONDS, false, "time in the queue"),
                        f("channel", Text, false, "phone, chat…"),
                    ]
                }
            }
            Entity::Journey => {
                const {
                    &[
                        f("session_id", Text, false, "the visit (or use customer_id)"),
                        f(
                            "customer_id",
                            Text,
                            false,
                            "the customer (or use session_id)",
                        ),
                        f(
                            "step",
                            Text,
                            true,
                            "the step reached: visit, cart, checkout…",
                        ),
                        f("at", Time, true, "when"),
                    ]
                }
            }
            Entity::Referrals => {
                const {
                    &[
                        f("referrer_id", Text, true, "the customer who invited"),
                        f("invited_at", Time, true, "when the invitation was sent"),
                        f(
                            "converted_at",
                            Time,
                            false,
                            "when the invitee became a customer",
                        ),
                    ]
                }
            }
            Entity::Mentions => {
                const {
                    &[
                        f("mention_id", Text, false, "the post"),
                        f("platform", Text, false, "x, instagram, trustpilot…"),
                        f("text", Text, true, "what was said"),
                        f("at", Time, true, "when"),
                        f("author", Text, false, "who said it"),
                    ]
                }
            }
        }
    }

    /// The timestamp that places a row in a period.
    pub fn time_field(self) -> &'static str {
        match self {
            Entity::Invitations => "sent_at",
            Entity::Customers => "signup_at",
            Entity::Tickets => "created_at",
            Entity::Lifecycle | Entity::Journey | Entity::Mentions => "at",
            Entity::Contacts => "offered_at",
            Entity::Referrals => "invited_at",
        }
    }

    /// The column whose values must be unique, if any.
    pub fn id_field(self) -> Option<&'static str> {
        match self {
            Entity::Tickets => Some("ticket_id"),
            Entity::Mentions => Some("mention_id"),
            Entity::Customers => Some("customer_id"),
            _ => None,
        }
    }
}

/// The Arrow schema of an entity table with the given attribute columns.
pub fn entity_schema(entity: Entity, attributes: &[String]) -> Arc<Schema> {
    let mut fields: Vec<Field> = entity
        .fields()
        .iter()
        .map(|d| Field::new(d.name, data_type(d.kind), !d.required))
        .collect();
    fields.push(Field::new(
        "local_date",
        DataType::Date32,
        entity == Entity::Customers,
    ));
    fields.push(Field::new("source_line", DataType::UInt64, false));
    fields.push(Field::new("source_file", DataType::UInt16, false));
    for a in attributes {
        fields.push(Field::new(a, DataType::Utf8, true));
    }
    Arc::new(Schema::new(fields))
}

fn data_type(k: Kind) -> DataType {
    match k {
        Kind::Text => DataType::Utf8,
        Kind::Time => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        Kind::Number { .. } => DataType::Float64,
        Kind::Count { .. } => DataType::Int64,
        Kind::Flag => DataType::Boolean,
    }
}

/// All rows of one entity over its sources.
#[derive(Debug, Clone)]
pub struct EntityTable {
    pub entity: Entity,
    pub schema: Arc<Schema>,
    pub batches: Vec<RecordBatch>,
    pub rejects: Vec<Reject>,
    pub sources: Vec<SourceReport>,
    pub totals: Counts,
    /// Attribute columns, in schema order.
    pub attributes: Vec<String>,
    /// File names; `source_file` indexes into this.
    pub files: Vec<String>,
}

impl EntityTable {
    /// Both tables as one (of the same entity), with the union of their attribute columns;
    /// the other's `source_file` indices follow this table's files.
    pub fn append(self, other: EntityTable) -> EntityTable {
        debug_assert_eq!(self.entity, other.entity);
        let attributes = crate::union_of([&self.attributes, &other.attributes]);
        let schema = entity_schema(self.entity, &attributes);
        let fixed = self.entity.fields().len() + 3;
        let file_col = fixed - 1;
        let offset = self.files.len() as u16;
        let mut batches = Vec::with_capacity(self.batches.len() + other.batches.len());
        for (part, names, shift) in [
            (self.batches, &self.attributes, 0),
            (other.batches, &other.attributes, offset),
        ] {
            for b in part {
                let mut cols = conform_entity(&b, self.entity, names, &attributes);
                if shift > 0 {
                    let files = cols[file_col]
                        .as_any()
                        .downcast_ref::<arrow::array::UInt16Array>()
                        .expect("source_file is UInt16");
                    cols[file_col] = Arc::new(arrow::compute::kernels::arity::unary::<
                        _,
                        _,
                        arrow::datatypes::UInt16Type,
                    >(files, |f| f + shift));
                }
                batches.push(
                    RecordBatch::try_new(schema.clone(), cols).expect("columns of the schema"),
                );
            }
        }
        let mut totals = self.totals;
        totals.add(&other.totals);
        EntityTable {
            entity: self.entity,
            schema,
            batches,
            rejects: self.rejects.into_iter().chain(other.rejects).collect(),
            sources: self.sources.into_iter().chain(other.sources).collect(),
            totals,
            attributes,
            files: self.files.into_iter().chain(other.files).collect(),
        }
    }

    pub fn rows(&self) -> usize {
        self.batches.iter().map(|b| b.num_rows()).sum()
    }

    /// Adds first response time and time to resolution in business seconds (columns
    /// [`cxray_metrics::tickets::BUSINESS_FRT`] and [`cxray_metrics::tickets::BUSINESS_TTR`])
    /// to a tickets table, counting only the calendar's open hours in the local time of `tz`.
    pub fn add_business_durations(
        &mut self,
        calendar: &cxray_metrics::tickets::BusinessCalendar,
        tz: &str,
    ) -> Result<(), String> {
        use arrow::array::{Array, AsArray, Float64Array};
        use cxray_metrics::tickets::{BUSINESS_FRT, BUSINESS_TTR};
        let tz = parse_tz(tz)?;
        let local = |micros: i64| {
            chrono::DateTime::from_timestamp_micros(micros)
                .map(|d| d.with_timezone(&tz).naive_local())
        };
        let idx = |n: &str| self.schema.index_of(n).map_err(|e| e.to_string());
        let (c, f, r) = (
            idx("created_at")?,
            idx("first_response_at")?,
            idx("resolved_at")?,
        );
        let mut fields: Vec<Field> = self
            .schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        fields.push(Field::new(BUSINESS_FRT, DataType::Float64, true));
        fields.push(Field::new(BUSINESS_TTR, DataType::Float64, true));
        let schema = Arc::new(Schema::new(fields));
        for b in &mut self.batches {
            let ts = |i: usize| {
                b.column(i)
                    .as_primitive::<arrow::datatypes::TimestampMicrosecondType>()
                    .clone()
            };
            let (created, first, resolved) = (ts(c), ts(f), ts(r));
            let between = |end: &arrow::array::TimestampMicrosecondArray| -> Float64Array {
                (0..b.num_rows())
                    .map(|i| {
                        if created.is_null(i) || end.is_null(i) {
                            return None;
                        }
                        Some(
                            calendar
                                .seconds_between(local(created.value(i))?, local(end.value(i))?),
                        )
                    })
                    .collect()
            };
            let mut cols = b.columns().to_vec();
            cols.push(Arc::new(between(&first)));
            cols.push(Arc::new(between(&resolved)));
            *b = RecordBatch::try_new(schema.clone(), cols).map_err(|e| e.to_string())?;
        }
        self.schema = schema;
        Ok(())
    }

    /// Values of a text column (canonical or attribute) over all rows, in table order.
    pub fn text_column(&self, name: &str) -> Option<Vec<Option<String>>> {
        use arrow::array::{Array, AsArray};
        let i = self.schema.index_of(name).ok()?;
        let mut out = Vec::with_capacity(self.rows());
        for b in &self.batches {
            let c = arrow::compute::cast(b.column(i), &DataType::Utf8).ok()?;
            let c = c.as_string::<i32>();
            out.extend((0..c.len()).map(|r| (!c.is_null(r)).then(|| c.value(r).to_string())));
        }
        Some(out)
    }

    /// `local_date` of every row (None where the entity's time is blank).
    pub fn local_dates(&self) -> Vec<Option<chrono::NaiveDate>> {
        use arrow::array::{Array, AsArray};
        let i = self
            .schema
            .index_of("local_date")
            .expect("entity tables have local_date");
        let mut out = Vec::with_capacity(self.rows());
        for b in &self.batches {
            let c = b.column(i).as_primitive::<arrow::datatypes::Date32Type>();
            out.extend(
                (0..c.len())
                    .map(|r| (!c.is_null(r)).then(|| crate::timestamp::days_to_date(c.value(r)))),
            );
        }
        out
    }

    /// (file, line) of every row.
    pub fn origins(&self) -> Vec<(String, u64)> {
        use arrow::array::AsArray;
        let li = self.schema.index_of("source_line").expect("source_line");
        let fi = self.schema.index_of("source_file").expect("source_file");
        let mut out = Vec::with_capacity(self.rows());
        for b in &self.batches {
            let l = b.column(li).as_primitive::<arrow::datatypes::UInt64Type>();
            let f = b.column(fi).as_primitive::<arrow::datatypes::UInt16Type>();
            out.extend(
                l.values()
                    .iter()
                    .zip(f.values().iter())
                    .map(|(&l, &f)| (self.files[f as usize].clone(), l)),
            );
        }
        out
    }

    /// Rejects rows after loading (for problems only visible across rows, such as a cancel
    /// before any start): `drop` holds (row index in table order, column, value, reason). The
    /// rows leave the table and join the rejects; the counts stay balanced.
    pub fn reject_rows(&mut self, drop: &[(usize, String, String, String)]) {
        use arrow::array::BooleanArray;
        if drop.is_empty() {
            return;
        }
        let origins = self.origins();
        let gone: std::collections::HashSet<usize> = drop.iter().map(|d| d.0).collect();
        for (row, column, value, reason) in drop {
            let (file, line) = origins[*row].clone();
            self.rejects.push(Reject {
                file: file.clone(),
                line,
                column: column.clone(),
                value: clip_value(value),
                reason: reason.clone(),
                answers: 1,
            });
            if let Some(s) = self.sources.iter_mut().find(|s| s.file == file) {
                s.counts.accepted -= 1;
                s.counts.rejected += 1;
            }
        }
        self.totals.accepted -= gone.len() as u64;
        self.totals.rejected += gone.len() as u64;
        let mut start = 0;
        for b in &mut self.batches {
            let n = b.num_rows();
            let keep: Vec<bool> = (start..start + n).map(|r| !gone.contains(&r)).collect();
            if keep.iter().any(|k| !k) {
                *b = arrow::compute::filter_record_batch(b, &BooleanArray::from(keep))
                    .expect("mask length matches");
            }
            start += n;
        }
    }
}

/// The columns of a batch of an entity table whose attribute columns are `names`, with the
/// attribute columns placed as in `attributes` (nulls for those it lacks).
pub(crate) fn conform_entity(
    b: &RecordBatch,
    entity: Entity,
    names: &[String],
    attributes: &[String],
) -> Vec<ArrayRef> {
    let fixed = entity.fields().len() + 3;
    let mut cols: Vec<ArrayRef> = b.columns()[..fixed].to_vec();
    for a in attributes {
        cols.push(match names.iter().position(|n| n == a) {
            Some(i) => b.column(fixed + i).clone(),
            None => arrow::array::new_null_array(&DataType::Utf8, b.num_rows()),
        });
    }
    cols
}

/// Loads every source of `entity` in the project; `None` when the project has none.
pub fn load_entity(
    cfg: &Sources,
    entity: Entity,
    threads: usize,
) -> Result<Option<EntityTable>, IngestError> {
    let project_tz = parse_tz(&cfg.timezone).map_err(|m| E::Config {
        path: cfg.origin.clone(),
        message: m,
    })?;
    let srcs: Vec<&SourceConfig> = cfg.list.iter().filter(|s| s.holds(Some(entity))).collect();
    if srcs.is_empty() {
        return Ok(None);
    }
    let mut parts: Vec<(Vec<RecordBatch>, Vec<String>)> = Vec::new();
    let mut table = EntityTable {
        entity,
        schema: entity_schema(entity, &[]),
        batches: vec![],
        rejects: vec![],
        sources: vec![],
        totals: Counts::default(),
        attributes: vec![],
        files: vec![],
    };
    for src in srcs {
        let path = cfg.resolve(&src.path);
        let time = crate::source_time(src, &path, project_tz)?;
        let file_index = table.files.len() as u16;
        let file = path.display().to_string();
        table.files.push(file.clone());
        let (outs, plan, format, delimiter) = read_validated(
            &path,
            src,
            threads,
            |header| {
                plan(entity, header, src).map_err(|m| E::Columns {
                    path: path.clone(),
                    message: m,
                })
            },
            |plan, raw| validate(plan, raw, &file, file_index, &mut time.clone()),
        )?;
        let mut counts = Counts::default();
        let mut batches = Vec::new();
        let mut first: Option<i32> = None;
        let mut last: Option<i32> = None;
        for o in outs {
            let o = o.map_err(|m| crate::invalid_batch(&path, m))?;
            counts.add(&o.counts);
            table.rejects.extend(o.rejects);
            if let Some((a, b)) = o.dates {
                first = Some(first.map_or(a, |f| f.min(a)));
                last = Some(last.map_or(b, |l| l.max(b)));
            }
            if o.batch.num_rows() > 0 {
                batches.push(o.batch);
            }
        }
        if counts.records == 0 {
            return Err(E::NoRows { path });
        }
        if let Some(id) = entity.id_field() {
            let dups = reject_duplicates(&mut batches, id, &plan, &file, threads);
            counts.accepted -= dups.len() as u64;
            counts.rejected += dups.len() as u64;
            table.rejects.extend(dups);
        }
        debug_assert_eq!(counts.read, counts.accepted + counts.rejected);
        table.totals.add(&counts);
        table.sources.push(SourceReport {
            file,
            format,
            layout: crate::Layout::Long,
            delimiter: delimiter.map(|d| (d as char).to_string()),
            counts,
            duplicates: 0,
            notes: plan.notes.clone(),
            first_date: first.map(|d| crate::timestamp::days_to_date(d).to_string()),
            last_date: last.map(|d| crate::timestamp::days_to_date(d).to_string()),
        });
        parts.push((
            batches,
            plan.attributes.iter().map(|(_, n)| n.clone()).collect(),
        ));
    }
    for (_, names) in &parts {
        for n in names {
            if !table.attributes.contains(n) {
                table.attributes.push(n.clone());
            }
        }
    }
    table.schema = entity_schema(entity, &table.attributes);
    for (batches, names) in parts {
        for b in batches {
            let cols = conform_entity(&b, entity, &names, &table.attributes);
            table.batches.push(
                RecordBatch::try_new(table.schema.clone(), cols).map_err(|e| E::Format {
                    path: Path::new(&table.files[0]).to_path_buf(),
                    message: e.to_string(),
                })?,
            );
        }
    }
    Ok(Some(table))
}

/// Which file column holds each canonical column, and which are attributes.
struct EntityPlan {
    entity: Entity,
    /// File column of each canonical field (None: absent, all null).
    fields: Vec<Option<usize>>,
    /// Attribute columns: (file column, name).
    attributes: Vec<(usize, String)>,
    column_names: Vec<String>,
    notes: Vec<String>,
}

fn plan(entity: Entity, header: &[String], src: &SourceConfig) -> Result<EntityPlan, String> {
    let canon: Vec<&str> = entity.fields().iter().map(|d| d.name).collect();
    for k in src.columns.keys() {
        if !canon.contains(&k.as_str()) {
            return Err(format!(
                "[sources.columns] maps '{k}', which is not a column of {}; its columns are: {}",
                entity.name(),
                canon.join(", ")
            ));
        }
    }
    let find = |name: &str| -> Option<usize> {
        header
            .iter()
            .position(|h| h == name)
            .or_else(|| header.iter().position(|h| h.eq_ignore_ascii_case(name)))
    };
    let mut fields = Vec::new();
    let mut used = vec![false; header.len()];
    let mut missing = Vec::new();
    for d in entity.fields() {
        let col = match src.columns.get(d.name) {
            Some(c) => Some(find(c).ok_or_else(|| {
                format!(
                    "[sources.columns] maps {} to '{c}', which is not in the header ({})",
                    d.name,
                    header.join(", ")
                )
            })?),
            None => find(d.name),
        };
        if let Some(c) = col {
            used[c] = true;
        } else if d.required {
            missing.push(format!("{} ({})", d.name, d.about));
        }
        fields.push(col);
    }
    if !missing.is_empty() {
        return Err(format!(
            "{} needs the column(s) {}; the header has: {}. Rename them or map them in \
             [sources.columns] of cxray.toml",
            entity.name(),
            missing.join(", "),
            header.join(", ")
        ));
    }
    let reserved = ["local_date", "source_line", "source_file"];
    let attributes = header
        .iter()
        .enumerate()
        .filter(|(i, h)| !used[*i] && !h.is_empty() && !reserved.contains(&h.as_str()))
        .map(|(i, h)| (i, h.clone()))
        .collect();
    Ok(EntityPlan {
        entity,
        fields,
        attributes,
        column_names: header.to_vec(),
        notes: vec![],
    })
}

/// Validated output of every chunk or row group of a file, the plan, the format and the
/// delimiter.
type Validated = (Vec<Result<Output, String>>, EntityPlan, Format, Option<u8>);

/// Reads any supported file and validates it piece by piece in parallel: each CSV chunk or
/// Parquet row group is parsed and validated by the same task and its raw columns dropped
/// right after, so memory holds one copy of the data (not raw and validated both) and Parquet
/// is decoded on every core.
fn read_validated(
    path: &Path,
    src: &SourceConfig,
    threads: usize,
    make_plan: impl FnOnce(&[String]) -> Result<EntityPlan, IngestError>,
    check: impl Fn(&EntityPlan, &RawBatch) -> Result<Output, String> + Sync,
) -> Result<Validated, IngestError> {
    let format = crate::source_format(path, src)?;
    match format {
        Format::Csv => {
            let CsvStart {
                text,
                delimiter,
                header,
                body_start,
                body_line,
            } = crate::csv_start(path, src)?;
            let plan = make_plan(&header)?;
            let all: Vec<usize> = (0..header.len()).collect();
            let chunks =
                crate::text::split_chunks(&text, body_start, body_line, threads.max(1) * 4);
            let outs = cxray_kernels::parallel(chunks.len(), threads, |k| {
                let raw = crate::csv_chunk(&text, &chunks[k], delimiter, header.len(), &all);
                check(&plan, &raw)
            });
            Ok((outs, plan, format, Some(delimiter)))
        }
        Format::Ndjson => {
            let (header, rows, unreadable) = crate::ndjson_rows(path, src)?;
            let plan = make_plan(&header)?;
            let raw = RawBatch {
                columns: crate::ndjson_columns(&header, &rows),
                lines: rows.iter().map(|(l, _)| *l).collect(),
                field_counts: None,
                overlong: vec![],
                bad_utf8: vec![],
                unreadable,
            };
            Ok((vec![check(&plan, &raw)], plan, format, None))
        }
        Format::Parquet => {
            use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
            let perr = |e: String| E::Format {
                path: path.to_path_buf(),
                message: format!("not a readable Parquet file: {e}"),
            };
            let builder = ParquetRecordBatchReaderBuilder::try_new(crate::open_file(path)?)
                .map_err(|e| perr(e.to_string()))?;
            let header: Vec<String> = builder
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect();
            let plan = make_plan(&header)?;
            // Row groups in order with the number of their first row.
            let mut groups = Vec::new();
            let mut first = 1u64;
            for (i, rg) in builder.metadata().row_groups().iter().enumerate() {
                groups.push((i, first));
                first += rg.num_rows() as u64;
            }
            // Text timestamps are read as views into the pages: they are parsed, not kept, so
            // copying them into string arrays first is wasted.
            let time_columns: Vec<usize> = plan
                .fields
                .iter()
                .zip(plan.entity.fields())
                .filter(|(_, d)| d.kind == Kind::Time)
                .filter_map(|(c, _)| *c)
                .collect();
            let read_schema = crate::text_read_as(builder.schema(), |i| {
                time_columns.contains(&i).then_some(DataType::Utf8View)
            });
            let per_group = cxray_kernels::parallel(groups.len(), threads, |k| {
                let (group, first_row) = groups[k];
                let options = parquet::arrow::arrow_reader::ArrowReaderOptions::new()
                    .with_schema(read_schema.clone());
                let reader = ParquetRecordBatchReaderBuilder::try_new_with_options(
                    crate::open_file(path).map_err(|e| e.to_string())?,
                    options,
                )
                .and_then(|b| {
                    b.with_row_groups(vec![group])
                        .with_batch_size(128 * 1024)
                        .build()
                })
                .map_err(|e| format!("not a readable Parquet file: {e}"))?;
                let mut row = first_row;
                let mut outs = Vec::new();
                for b in reader {
                    let b = b.map_err(|e| format!("not a readable Parquet file: {e}"))?;
                    let n = b.num_rows() as u64;
                    let raw = RawBatch {
                        columns: b.columns().to_vec(),
                        lines: (row..row + n).collect(),
                        field_counts: None,
                        overlong: vec![],
                        bad_utf8: vec![],
                        unreadable: vec![],
                    };
                    row += n;
                    outs.push(check(&plan, &raw));
                }
                Ok::<_, String>(outs)
            });
            let mut outs = Vec::new();
            for g in per_group {
                match g {
                    Ok(v) => outs.extend(v),
                    Err(m) => return Err(perr(m)),
                }
            }
            Ok((outs, plan, format, None))
        }
    }
}

/// The accepted rows of one raw batch.
struct Output {
    batch: RecordBatch,
    rejects: Vec<Reject>,
    counts: Counts,
    /// First and last local date of accepted rows.
    dates: Option<(i32, i32)>,
}

/// One canonical value of a row; text borrows from the raw batch where it can.
#[derive(Debug, Clone, PartialEq)]
enum Value<'a> {
    Null,
    Text(std::borrow::Cow<'a, str>),
    Time(i64, i32),
    Number(f64),
    Count(i64),
    Flag(bool),
}

/// Column builders of a table being built.
enum Builder {
    Text(StringBuilder),
    Time(TimestampMicrosecondBuilder),
    Number(Float64Builder),
    Count(Int64Builder),
    Flag(BooleanBuilder),
}

impl Builder {
    fn with_capacity(k: Kind, n: usize) -> Builder {
        match k {
            Kind::Text => Builder::Text(StringBuilder::with_capacity(n, 0)),
            Kind::Time => {
                Builder::Time(TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC"))
            }
            Kind::Number { .. } => Builder::Number(Float64Builder::with_capacity(n)),
            Kind::Count { .. } => Builder::Count(Int64Builder::with_capacity(n)),
            Kind::Flag => Builder::Flag(BooleanBuilder::with_capacity(n)),
        }
    }

    fn push(&mut self, v: &Value) {
        match (self, v) {
            (Builder::Text(b), Value::Text(s)) => b.append_value(s),
            (Builder::Time(b), Value::Time(t, _)) => b.append_value(*t),
            (Builder::Number(b), Value::Number(x)) => b.append_value(*x),
            (Builder::Count(b), Value::Count(x)) => b.append_value(*x),
            (Builder::Flag(b), Value::Flag(x)) => b.append_value(*x),
            (Builder::Text(b), _) => b.append_null(),
            (Builder::Time(b), _) => b.append_null(),
            (Builder::Number(b), _) => b.append_null(),
            (Builder::Count(b), _) => b.append_null(),
            (Builder::Flag(b), _) => b.append_null(),
        }
    }

    fn finish(self) -> ArrayRef {
        match self {
            Builder::Text(mut b) => Arc::new(b.finish()),
            Builder::Time(mut b) => Arc::new(b.finish()),
            Builder::Number(mut b) => Arc::new(b.finish()),
            Builder::Count(mut b) => Arc::new(b.finish()),
            Builder::Flag(mut b) => Arc::new(b.finish()),
        }
    }
}

/// Parses a yes/no value.
pub fn parse_flag(s: &str) -> Option<bool> {
    const YES: [&str; 10] = ["true", "t", "yes", "y", "1", "ja", "oui", "si", "sí", "da"];
    const NO: [&str; 9] = ["false", "f", "no", "n", "0", "nee", "nein", "non", "ne"];
    let s = crate::rows::trimmed(s);
    // No allocation: this runs once per flag cell.
    if YES.iter().any(|y| y.eq_ignore_ascii_case(s)) || s.eq_ignore_ascii_case("SÍ") {
        Some(true)
    } else if NO.iter().any(|n| n.eq_ignore_ascii_case(s)) {
        Some(false)
    } else {
        None
    }
}

/// A row-level problem: (file column, value, reason).
type Problem = (Option<usize>, String, String);

/// The reason for an empty required field.
fn required_reason(d: &FieldDef) -> String {
    format!("{} is empty; it is required ({})", d.name, d.about)
}

fn parse_cell<'a>(
    d: &FieldDef,
    cell: Cell<'a>,
    time: &mut TimeParser,
) -> Result<Value<'a>, String> {
    if matches!(cell, Cell::Blank | Cell::Missing) {
        return if d.required {
            Err(required_reason(d))
        } else {
            Ok(Value::Null)
        };
    }
    if cell == Cell::BadUtf8 {
        return Err("not valid UTF-8 (set encoding in the source's config)".into());
    }
    match d.kind {
        Kind::Text => Ok(Value::Text(text_of(cell))),
        Kind::Time => {
            let p = crate::rows::time_of(cell, time).map_err(|(_, reason)| reason)?;
            Ok(Value::Time(p.utc_micros, p.local_days))
        }
        Kind::Number { min } => {
            let x = match cell {
                Cell::Number(x) => x,
                Cell::Text(s) => crate::rows::trimmed(s)
                    .parse::<f64>()
                    .map_err(|_| format!("{} must be a number", d.name))?,
                _ => return Err(format!("{} must be a number", d.name)),
            };
            if !x.is_finite() {
                return Err(format!("{} must be a finite number", d.name));
            }
            if x < min {
                return Err(if min == 0.0 {
                    format!("negative {}: must be 0 or more", d.name.replace('_', " "))
                } else {
                    format!("{} must be at least {min}", d.name)
                });
            }
            Ok(Value::Number(x))
        }
        Kind::Count { min } => {
            let x = match cell {
                Cell::Number(x) if x.fract() == 0.0 && x.abs() < 9e15 => x as i64,
                Cell::Text(s) => crate::rows::trimmed(s)
                    .parse::<i64>()
                    .map_err(|_| format!("{} must be a whole number", d.name))?,
                _ => return Err(format!("{} must be a whole number", d.name)),
            };
            if x < min {
                return Err(format!("{} must be at least {min}", d.name));
            }
            Ok(Value::Count(x))
        }
        Kind::Flag => {
            let s = text_of(cell);
            parse_flag(&s)
                .map(Value::Flag)
                .ok_or_else(|| format!("{} must be yes/no (true/false, 1/0, yes/no)", d.name))
        }
    }
}

fn index_of(entity: Entity, name: &str) -> usize {
    entity
        .fields()
        .iter()
        .position(|d| d.name == name)
        .expect("a canonical field")
}

/// The rules across the fields of a row, checked column by column on the rows without a problem
/// (`bad` false), which they mark when they fail: times in order; the reopen and abandon flags
/// completed from their times (a reopen time means reopened, a contact without an answer time
/// was abandoned); a journey event's unit; a lifecycle event's name. Returns each failing row
/// with the first rule it breaks.
fn cross_rules(
    plan: &EntityPlan,
    columns: &[Option<ArrayRef>],
    flags: &mut [Option<Vec<Option<bool>>>],
    bad: &mut [bool],
) -> Vec<(usize, Problem)> {
    use arrow::datatypes::TimestampMicrosecondType as Micros;
    let e = plan.entity;
    let pos = |name: &str| {
        e.fields()
            .iter()
            .position(|d| d.name == name)
            .expect("a canonical field")
    };
    let col = |k: usize| plan.fields[k];
    let column = |k: usize| columns[k].as_ref().expect("every field has a column");
    let n = bad.len();
    let mut out: Vec<(usize, Problem)> = Vec::new();
    /// Marks row `r` rejected with its problem.
    fn fail(
        bad: &mut [bool],
        out: &mut Vec<(usize, Problem)>,
        r: usize,
        c: Option<usize>,
        value: String,
        reason: String,
    ) {
        bad[r] = true;
        out.push((r, (c, value, reason)));
    }
    // (later, earlier, reason): times that must be in order.
    let order: &[(&str, &str, &str)] = match e {
        Entity::Tickets => &[
            (
                "resolved_at",
                "created_at",
                "ticket resolved before it was created",
            ),
            (
                "first_response_at",
                "created_at",
                "first response before the ticket was created",
            ),
            (
                "resolved_at",
                "first_response_at",
                "ticket resolved before its first response",
            ),
            (
                "reopened_at",
                "resolved_at",
                "ticket reopened before it was resolved",
            ),
        ],
        Entity::Contacts => &[(
            "answered_at",
            "offered_at",
            "answered before it was offered",
        )],
        Entity::Referrals => &[(
            "converted_at",
            "invited_at",
            "converted before the invitation was sent",
        )],
        _ => &[],
    };
    for &(later, earlier, reason) in order {
        let (k, j) = (pos(later), pos(earlier));
        let (a, b) = (
            column(k).as_primitive::<Micros>(),
            column(j).as_primitive::<Micros>(),
        );
        if a.null_count() == n || b.null_count() == n {
            continue;
        }
        let (av, bv) = (a.values(), b.values());
        for r in 0..n {
            // Null slots hold some value: compare first (cheap, rarely true), then check.
            if av[r] < bv[r] && !bad[r] && a.is_valid(r) && b.is_valid(r) {
                let shown = chrono::DateTime::from_timestamp_micros(av[r])
                    .map(|d| d.to_rfc3339())
                    .unwrap_or_default();
                fail(bad, &mut out, r, col(k), shown, reason.to_string());
            }
        }
    }
    match e {
        Entity::Tickets => {
            let (ka, kf) = (pos("reopened_at"), pos("reopened"));
            let at = column(ka);
            let mapped = col(ka).is_some();
            let f = flags[kf].as_mut().expect("a flag column");
            for r in 0..n {
                if bad[r] {
                    continue;
                }
                if at.is_valid(r) {
                    if f[r] == Some(false) {
                        fail(
                            bad,
                            &mut out,
                            r,
                            col(kf),
                            "false".into(),
                            "reopened is false but reopened_at has a time".into(),
                        );
                    } else {
                        f[r] = Some(true);
                    }
                } else if f[r].is_none() && mapped {
                    // A reopen time column without a time: not reopened.
                    f[r] = Some(false);
                }
            }
        }
        Entity::Contacts => {
            let answered = column(pos("answered_at"));
            let ka = pos("abandoned");
            let f = flags[ka].as_mut().expect("a flag column");
            for r in 0..n {
                if bad[r] {
                    continue;
                }
                let ans = answered.is_valid(r);
                match f[r] {
                    Some(true) if ans => fail(
                        bad,
                        &mut out,
                        r,
                        col(ka),
                        "true".into(),
                        "marked abandoned but has an answered_at time".into(),
                    ),
                    // Without a flag, a contact without an answer time was abandoned: the
                    // column is complete after ingestion.
                    None => f[r] = Some(!ans),
                    _ => {}
                }
            }
        }
        Entity::Journey => {
            let (ks, kc) = (pos("session_id"), pos("customer_id"));
            let (session, customer) = (column(ks), column(kc));
            for r in 0..n {
                if !bad[r] && session.is_null(r) && customer.is_null(r) {
                    fail(
                        bad,
                        &mut out,
                        r,
                        col(ks).or(col(kc)),
                        String::new(),
                        "a journey event needs a session_id or a customer_id".into(),
                    );
                }
            }
        }
        Entity::Lifecycle => {
            let ke = pos("event");
            let event = column(ke).as_string::<i32>();
            for r in 0..n {
                if !bad[r]
                    && event.is_valid(r)
                    && cxray_metrics::churn::LifecycleEvent::parse(event.value(r)).is_none()
                {
                    fail(
                        bad,
                        &mut out,
                        r,
                        col(ke),
                        event.value(r).to_string(),
                        "unknown lifecycle event; use start, cancel, renew or an activity \
                         (activity, order, purchase, booking, visit, login)"
                            .into(),
                    );
                }
            }
        }
        _ => {}
    }
    out
}

/// Validates one raw batch column by column: each canonical field is parsed in its own loop
/// into its typed column (text columns from the file are kept as they are when no value needs
/// trimming or blanking), problems are collected sparsely, and each rejected row is reported
/// with its first problem in field order, as a row-by-row check would. The rules across
/// columns then run on the rows without a problem, and one filter keeps the accepted rows.
fn validate(
    plan: &EntityPlan,
    raw: &RawBatch,
    file: &str,
    file_index: u16,
    time: &mut TimeParser,
) -> Result<Output, String> {
    let e = plan.entity;
    let defs = e.fields();
    let n = raw.len();
    // Typed access to each mapped column (Parquet booleans of flags and integers of counts are
    // read directly).
    let readers: Vec<Option<Reader>> = plan
        .fields
        .iter()
        .zip(defs)
        .map(|(c, d)| {
            c.filter(|c| {
                let t = raw.columns[*c].data_type();
                !(d.kind == Kind::Flag && t == &DataType::Boolean
                    || matches!(d.kind, Kind::Count { .. }) && t.is_integer())
            })
            .map(|c| Reader::new(&raw.columns[c]))
            .transpose()
        })
        .collect::<Result<_, _>>()?;
    let bad: std::collections::HashSet<(usize, usize)> = raw.bad_utf8.iter().copied().collect();
    // No short rows and no bad bytes: every cell is what its column's array holds.
    let plain = bad.is_empty()
        && raw
            .field_counts
            .as_ref()
            .is_none_or(|f| f.iter().all(|&k| k as usize >= raw.columns.len()));
    let time_idx = index_of(e, e.time_field());
    let mut counts = Counts::default();
    let mut rejects = Vec::new();
    let reject = |rejects: &mut Vec<Reject>, line: u64, col: Option<usize>, value: &str, reason| {
        rejects.push(Reject {
            file: file.to_string(),
            line,
            column: col
                .map(|c| plan.column_names[c].clone())
                .unwrap_or_default(),
            value: clip_value(value),
            reason,
            answers: 1,
        })
    };
    for (line, reason) in &raw.unreadable {
        counts.records += 1;
        counts.read += 1;
        counts.rejected += 1;
        reject(&mut rejects, *line, None, "", reason.clone());
    }
    // (row, order, file column, value, reason); order 0 is the row itself, k + 1 field k.
    type Found = (usize, usize, Option<usize>, String, String);
    let mut problems: Vec<Found> = Vec::new();
    for (r, extra) in &raw.overlong {
        problems.push((
            *r,
            0,
            None,
            extra.clone(),
            "row has more fields than the header (a delimiter inside an unquoted value?)".into(),
        ));
    }
    let mut columns: Vec<Option<ArrayRef>> = vec![None; defs.len()];
    // Flags stay values until the row rules have completed them.
    let mut flags: Vec<Option<Vec<Option<bool>>>> = vec![None; defs.len()];
    let mut local_days: Vec<Option<i32>> = Vec::new();
    for (k, d) in defs.iter().enumerate() {
        let Some(c) = plan.fields[k] else {
            match d.kind {
                Kind::Flag => flags[k] = Some(vec![None; n]),
                kind => columns[k] = Some(arrow::array::new_null_array(&data_type(kind), n)),
            }
            if k == time_idx {
                local_days = vec![None; n];
            }
            continue;
        };
        let mut fail = |r: usize, cl: Cell<'_>, reason: String| {
            problems.push((r, k + 1, Some(c), text_of(cl).into_owned(), reason));
        };
        let reader = || {
            readers[k]
                .as_ref()
                .expect("a reader for every mapped column")
        };
        match d.kind {
            Kind::Text => {
                let col = text_column(raw, &bad, c, reader(), |r, cl| match cl {
                    Cell::BadUtf8 => fail(
                        r,
                        cl,
                        "not valid UTF-8 (set encoding in the source's config)".into(),
                    ),
                    _ if d.required => fail(r, cl, required_reason(d)),
                    _ => {}
                });
                columns[k] = Some(col);
            }
            // Parquet booleans are read as they are (not formatted as text and parsed back).
            Kind::Flag if raw.columns[c].data_type() == &DataType::Boolean => {
                let a = raw.columns[c].as_boolean();
                if d.required {
                    for r in (0..n).filter(|r| a.is_null(*r)) {
                        fail(r, Cell::Blank, required_reason(d));
                    }
                }
                flags[k] = Some(a.iter().collect());
            }
            Kind::Flag => {
                let reader = reader();
                let mut out = Vec::with_capacity(n);
                for r in 0..n {
                    let cl = raw_cell(raw, &bad, r, c, reader);
                    out.push(match parse_cell(d, cl, time) {
                        Ok(Value::Flag(x)) => Some(x),
                        Ok(_) => None,
                        Err(reason) => {
                            fail(r, cl, reason);
                            None
                        }
                    });
                }
                flags[k] = Some(out);
            }
            // Typed numbers (Parquet) are checked where they are and kept as read: the values
            // of rejected rows leave with their rows.
            Kind::Count { .. } if raw.columns[c].data_type().is_integer() => {
                let a = arrow::compute::cast(&raw.columns[c], &DataType::Int64)
                    .map_err(|e| e.to_string())?;
                let ints = a.as_primitive::<arrow::datatypes::Int64Type>();
                for r in 0..n {
                    let cl = if ints.is_null(r) {
                        Cell::Blank
                    } else {
                        Cell::Number(ints.value(r) as f64)
                    };
                    if let Err(reason) = parse_cell(d, cl, time) {
                        fail(r, cl, reason);
                    }
                }
                columns[k] = Some(a);
            }
            Kind::Number { .. } if matches!(reader(), Reader::Number(_)) => {
                let Reader::Number(a) = reader() else {
                    unreachable!("matched above")
                };
                for r in 0..n {
                    let cl = if a.is_null(r) {
                        Cell::Blank
                    } else {
                        Cell::Number(a.value(r))
                    };
                    if let Err(reason) = parse_cell(d, cl, time) {
                        fail(r, cl, reason);
                    }
                }
                columns[k] = Some(Arc::new(a.clone()));
            }
            // Timestamps as text in a batch where every cell is what its array holds: built
            // straight into their column, without the general builder.
            Kind::Time if plain && matches!(reader(), Reader::Text(_) | Reader::View(_)) => {
                let text = |r: usize| match reader() {
                    Reader::Text(a) => a.is_valid(r).then(|| a.value(r)),
                    Reader::View(a) => a.is_valid(r).then(|| a.value(r)),
                    _ => None,
                };
                let mut b = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
                let days = k == time_idx;
                if days {
                    local_days.reserve(n);
                }
                for r in 0..n {
                    let cl = crate::rows::text_cell(text(r));
                    let parsed = match cl {
                        Cell::Blank => {
                            if d.required {
                                fail(r, cl, required_reason(d));
                            }
                            None
                        }
                        _ => crate::rows::time_of(cl, time)
                            .map_err(|(_, reason)| fail(r, cl, reason))
                            .ok(),
                    };
                    b.append_option(parsed.map(|p| p.utc_micros));
                    if days {
                        local_days.push(parsed.map(|p| p.local_days));
                    }
                }
                columns[k] = Some(Arc::new(b.finish()));
            }
            kind => {
                let reader = reader();
                let mut b = Builder::with_capacity(kind, n);
                let days = k == time_idx;
                if days {
                    local_days.reserve(n);
                }
                for r in 0..n {
                    let cl = raw_cell(raw, &bad, r, c, reader);
                    let v = parse_cell(d, cl, time).unwrap_or_else(|reason| {
                        fail(r, cl, reason);
                        Value::Null
                    });
                    if days {
                        local_days.push(match v {
                            Value::Time(_, d) => Some(d),
                            _ => None,
                        });
                    }
                    b.push(&v);
                }
                columns[k] = Some(b.finish());
            }
        }
    }
    // The first problem of each row, in field order.
    problems.sort_by_key(|p| (p.0, p.1));
    problems.dedup_by_key(|p| p.0);
    let mut rejected_row = vec![false; n];
    for p in &problems {
        rejected_row[p.0] = true;
    }
    // Rejects in row order: the row's first problem in a field, or else the first rule it
    // breaks (rules run only on rows without a problem, so no row has both).
    let broken = cross_rules(plan, &columns, &mut flags, &mut rejected_row);
    let mut failed: Vec<(usize, Problem)> = problems
        .into_iter()
        .map(|(r, _, c, v, reason)| (r, (c, v, reason)))
        .chain(broken)
        .collect();
    failed.sort_by_key(|f| f.0);
    for (r, (c, v, reason)) in failed {
        reject(&mut rejects, raw.lines[r], c, &v, reason);
    }
    let rejected = rejected_row.iter().filter(|b| **b).count() as u64;
    counts.records += n as u64;
    counts.read += n as u64;
    counts.rejected += rejected;
    counts.accepted += n as u64 - rejected;
    for (k, f) in flags.iter_mut().enumerate() {
        if let Some(f) = f.take() {
            let f: Vec<Option<bool>> = f
                .into_iter()
                .zip(&rejected_row)
                .map(|(x, b)| x.filter(|_| !b))
                .collect();
            columns[k] = Some(Arc::new(arrow::array::BooleanArray::from(f)));
        }
    }
    let keep =
        arrow::array::BooleanArray::from(rejected_row.iter().map(|b| !b).collect::<Vec<bool>>());
    let names: Vec<String> = plan.attributes.iter().map(|(_, n)| n.clone()).collect();
    let schema = entity_schema(e, &names);
    let mut cols: Vec<ArrayRef> = columns
        .into_iter()
        .map(|c| c.expect("every field has a column"))
        .collect();
    cols.push(Arc::new(arrow::array::Date32Array::from(local_days)));
    cols.push(Arc::new(arrow::array::UInt64Array::new(
        raw.lines.clone(),
        None,
    )));
    cols.push(Arc::new(arrow::array::UInt16Array::from(vec![
        file_index;
        n
    ])));
    for (c, _) in &plan.attributes {
        let reader = Reader::new(&raw.columns[*c])?;
        cols.push(text_column(raw, &bad, *c, &reader, |_, _| {}));
    }
    // Rejected rows may hold nulls in required columns: filter first, then check the schema.
    let cols = if keep.true_count() == n {
        cols
    } else {
        cols.iter()
            .map(|c| arrow::compute::filter(c, &keep))
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())?
    };
    let batch = RecordBatch::try_new(schema, cols).map_err(|e| e.to_string())?;
    let days = batch
        .column(defs.len())
        .as_primitive::<arrow::datatypes::Date32Type>();
    let dates = arrow::compute::min(days).zip(arrow::compute::max(days));
    Ok(Output {
        batch,
        rejects,
        counts,
        dates,
    })
}

/// A text column: blank, missing and unreadable cells become null and values are trimmed;
/// `cell` sees every blank, missing or unreadable cell (for the required check). The file's
/// own column is returned as it is when nothing needed changing.
fn text_column(
    raw: &RawBatch,
    bad: &std::collections::HashSet<(usize, usize)>,
    c: usize,
    reader: &Reader,
    mut cell: impl FnMut(usize, Cell<'_>),
) -> ArrayRef {
    let n = raw.len();
    if let Reader::Text(a) = reader {
        let mut clean = true;
        for r in 0..n {
            let cl = raw_cell(raw, bad, r, c, reader);
            match cl {
                Cell::Text(s) => clean &= crate::rows::trimmed(s).len() == s.len(),
                Cell::Blank if a.is_null(r) => cell(r, cl),
                other => {
                    clean = false;
                    cell(r, other);
                }
            }
        }
        if clean {
            return Arc::new(a.clone());
        }
    } else {
        for r in 0..n {
            let cl = raw_cell(raw, bad, r, c, reader);
            if matches!(cl, Cell::Blank | Cell::Missing | Cell::BadUtf8) {
                cell(r, cl);
            }
        }
    }
    let mut b = StringBuilder::with_capacity(n, 0);
    for r in 0..n {
        match raw_cell(raw, bad, r, c, reader) {
            Cell::Blank | Cell::Missing | Cell::BadUtf8 => b.append_null(),
            other => b.append_value(text_of(other)),
        }
    }
    Arc::new(b.finish())
}

fn raw_cell<'a>(
    raw: &RawBatch,
    bad: &std::collections::HashSet<(usize, usize)>,
    r: usize,
    c: usize,
    reader: &'a Reader,
) -> Cell<'a> {
    if let Some(fc) = &raw.field_counts
        && c >= fc[r] as usize
    {
        return Cell::Missing;
    }
    if !bad.is_empty() && bad.contains(&(r, c)) {
        return Cell::BadUtf8;
    }
    reader.cell(r)
}

/// Keeps the first row of each id (in file order) and rejects the rest.
fn reject_duplicates(
    batches: &mut [RecordBatch],
    id: &str,
    plan: &EntityPlan,
    file: &str,
    threads: usize,
) -> Vec<Reject> {
    use arrow::array::{AsArray, BooleanArray, StringArray};
    let idx = index_of(plan.entity, id);
    let column = plan.fields[idx]
        .map(|c| plan.column_names[c].clone())
        .unwrap_or_else(|| id.to_string());
    let line_idx = plan.entity.fields().len() + 1;
    let ids: Vec<StringArray> = batches
        .iter()
        .map(|b| b.column(idx).as_string::<i32>().clone())
        .collect();
    let id_refs: Vec<&StringArray> = ids.iter().collect();
    let dups = crate::find_duplicates(&id_refs, threads);
    if dups.is_empty() {
        return vec![];
    }
    let line = |k: usize, r: usize| {
        batches[k]
            .column(line_idx)
            .as_primitive::<arrow::datatypes::UInt64Type>()
            .value(r)
    };
    let rejects: Vec<Reject> = dups
        .iter()
        .map(|&(k, r, k0, r0)| Reject {
            file: file.to_string(),
            line: line(k, r),
            column: column.clone(),
            value: clip_value(ids[k].value(r)),
            reason: format!(
                "duplicate {id} (first seen on line {}); the first is kept",
                line(k0, r0)
            ),
            answers: 1,
        })
        .collect();
    let mut masks: Vec<Vec<bool>> = batches.iter().map(|b| vec![true; b.num_rows()]).collect();
    for &(k, r, _, _) in &dups {
        masks[k][r] = false;
    }
    for (b, m) in batches.iter_mut().zip(masks) {
        if m.iter().any(|k| !k) {
            *b = arrow::compute::filter_record_batch(b, &BooleanArray::from(m))
                .expect("mask length matches");
        }
    }
    rejects
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray};

    /// Sources in Amsterdam time, one file per (name, entity, body).
    fn project(dir: &Path, files: &[(&str, &str, &str)]) -> Sources {
        let mut list = Vec::new();
        for (name, entity, body) in files {
            std::fs::write(dir.join(name), body).unwrap();
            list.push(SourceConfig {
                path: name.into(),
                entity: Some(entity.to_string()),
                ..Default::default()
            });
        }
        let sources = Sources {
            list,
            base_dir: dir.to_path_buf(),
            timezone: "Europe/Amsterdam".into(),
            ..Default::default()
        };
        sources.validate().unwrap();
        sources
    }

    const TICKETS: &str = "\
ticket_id,created_at,first_response_at,resolved_at,contacts,reopened,handle_seconds,category
T1,2025-03-01 10:00,2025-03-01 10:30,2025-03-02 09:00,1,false,300,billing
T2,2025-03-01 10:00,,2025-03-01 09:00,1,false,300,billing
T3,2025-03-01 10:00,2025-03-01 10:05,,2,no,-20,delivery
T4,2025-03-02 23:30,2025-03-03 08:00,2025-03-03 09:00,0,false,100,delivery
T5,2025-03-03 08:00,2025-03-03 08:10,2025-03-03 09:00,1,maybe,100,delivery
T1,2025-03-04 08:00,,,1,false,50,billing
T6,,,,1,false,50,billing
T7,2025-03-31 23:30,2025-03-03 08:10,,1,1,,
";

    #[test]
    fn tickets_are_checked_row_by_row_and_nothing_is_lost() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = project(dir.path(), &[("tickets.csv", "tickets", TICKETS)]);
        let t = load_entity(&cfg, Entity::Tickets, 2).unwrap().unwrap();
        assert_eq!(t.totals.read, 8);
        assert_eq!(t.totals.accepted, 1);
        assert_eq!(t.totals.rejected, 7);
        let mut reasons: Vec<(u64, String, String)> = t
            .rejects
            .iter()
            .map(|r| (r.line, r.column.clone(), r.reason.clone()))
            .collect();
        reasons.sort();
        let want = [
            (3, "resolved_at", "ticket resolved before it was created"),
            (
                4,
                "handle_seconds",
                "negative handle seconds: must be 0 or more",
            ),
            (5, "contacts", "contacts must be at least 1"),
            (
                6,
                "reopened",
                "reopened must be yes/no (true/false, 1/0, yes/no)",
            ),
            (
                7,
                "ticket_id",
                "duplicate ticket_id (first seen on line 2); the first is kept",
            ),
            (
                8,
                "created_at",
                "created_at is empty; it is required (when it was opened)",
            ),
            (
                9,
                "first_response_at",
                "first response before the ticket was created",
            ),
        ];
        assert_eq!(reasons.len(), want.len());
        for (got, want) in reasons.iter().zip(want) {
            assert_eq!((got.0, got.1.as_str(), got.2.as_str()), want);
        }
        // The accepted row: typed columns, local date in Amsterdam, its line and attributes.
        let b = &t.batches[0];
        assert_eq!(b.num_rows(), 1);
        assert!(
            t.attributes.is_empty(),
            "category is a canonical ticket column"
        );
        assert_eq!(b.column(8).as_string::<i32>().value(0), "billing");
        let created = b
            .column(2)
            .as_primitive::<arrow::datatypes::TimestampMicrosecondType>();
        // 2025-03-01 10:00 CET = 09:00 UTC.
        assert_eq!(created.value(0), 1_740_819_600_000_000);
        assert!(!b.column(6).as_boolean().value(0));
        assert_eq!(
            b.column(5)
                .as_primitive::<arrow::datatypes::Int64Type>()
                .value(0),
            1
        );
        assert!(b.column(1).is_null(0), "customer_id absent");
        let line = b.column_by_name("source_line").unwrap();
        assert_eq!(
            line.as_primitive::<arrow::datatypes::UInt64Type>().value(0),
            2
        );
    }

    #[test]
    fn contacts_without_the_abandoned_column_are_derived_from_answers() {
        let dir = tempfile::tempdir().unwrap();
        let body = "offered_at;answered_at;wait_seconds\n\
                    2025-03-01T10:00:00Z;2025-03-01T10:01:00Z;60\n\
                    2025-03-01T10:00:00Z;;45\n\
                    2025-03-01T10:00:00Z;2025-03-01T09:59:00Z;0\n";
        let cfg = project(dir.path(), &[("q.csv", "contacts", body)]);
        let t = load_entity(&cfg, Entity::Contacts, 1).unwrap().unwrap();
        assert_eq!((t.totals.accepted, t.totals.rejected), (2, 1));
        assert_eq!(t.rejects[0].reason, "answered before it was offered");
        let ab = t.batches[0].column(2).as_boolean();
        assert_eq!((ab.value(0), ab.value(1)), (false, true));
    }

    #[test]
    fn contradictory_abandon_flag_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let body = "offered_at,answered_at,abandoned\n\
                    2025-03-01T10:00:00Z,2025-03-01T10:01:00Z,true\n\
                    2025-03-01T10:00:00Z,,\n";
        let cfg = project(dir.path(), &[("q.csv", "contacts", body)]);
        let t = load_entity(&cfg, Entity::Contacts, 1).unwrap().unwrap();
        assert_eq!((t.totals.accepted, t.totals.rejected), (1, 1));
        assert_eq!(
            t.rejects[0].reason,
            "marked abandoned but has an answered_at time"
        );
        assert!(t.batches[0].column(2).as_boolean().value(0));
    }

    #[test]
    fn lifecycle_journey_and_referral_rules() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = project(
            dir.path(),
            &[
                (
                    "l.csv",
                    "lifecycle",
                    "customer_id,event,at\nC1,start,2025-01-01\nC1,teleport,2025-01-02\n",
                ),
                (
                    "j.ndjson",
                    "journey",
                    "{\"session_id\":\"S1\",\"step\":\"visit\",\"at\":\"2025-01-01T10:00:00Z\"}\n\
                     {\"step\":\"cart\",\"at\":\"2025-01-01T10:00:00Z\"}\n\
                     not json\n",
                ),
                (
                    "r.csv",
                    "referrals",
                    "referrer_id,invited_at,converted_at\nC1,2025-01-05,2025-01-04\nC1,2025-01-05,\n",
                ),
            ],
        );
        let l = load_entity(&cfg, Entity::Lifecycle, 1).unwrap().unwrap();
        assert_eq!((l.totals.accepted, l.totals.rejected), (1, 1));
        assert!(l.rejects[0].reason.starts_with("unknown lifecycle event"));
        let j = load_entity(&cfg, Entity::Journey, 1).unwrap().unwrap();
        assert_eq!(
            (j.totals.read, j.totals.accepted, j.totals.rejected),
            (3, 1, 2)
        );
        let mut rs: Vec<(u64, &str)> = j
            .rejects
            .iter()
            .map(|r| (r.line, r.reason.as_str()))
            .collect();
        rs.sort();
        assert_eq!(
            rs[0],
            (2, "a journey event needs a session_id or a customer_id")
        );
        assert_eq!(rs[1].0, 3);
        assert!(rs[1].1.starts_with("not valid JSON"));
        let r = load_entity(&cfg, Entity::Referrals, 1).unwrap().unwrap();
        assert_eq!((r.totals.accepted, r.totals.rejected), (1, 1));
        assert_eq!(
            r.rejects[0].reason,
            "converted before the invitation was sent"
        );
        assert!(load_entity(&cfg, Entity::Tickets, 1).unwrap().is_none());
    }

    #[test]
    fn missing_required_columns_name_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = project(
            dir.path(),
            &[("t.csv", "tickets", "id,opened\nT1,2025-01-01\n")],
        );
        let e = load_entity(&cfg, Entity::Tickets, 1)
            .unwrap_err()
            .to_string();
        assert!(e.contains("ticket_id (the ticket)"), "{e}");
        assert!(e.contains("created_at (when it was opened)"), "{e}");
        assert!(e.contains("[sources.columns]"), "{e}");
    }

    #[test]
    fn parquet_typed_columns_are_read_natively() {
        use arrow::array::{
            BooleanArray, Float64Array, Int64Array, StringArray, TimestampMicrosecondArray,
        };
        let dir = tempfile::tempdir().unwrap();
        let ts = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
        let schema = Arc::new(Schema::new(vec![
            Field::new("ticket_id", DataType::Utf8, false),
            Field::new("created_at", ts.clone(), false),
            Field::new("resolved_at", ts, true),
            Field::new("contacts", DataType::Int64, true),
            Field::new("reopened", DataType::Boolean, false),
            Field::new("handle_seconds", DataType::Float64, false),
            Field::new("first_response_at", DataType::Utf8, true),
        ]));
        let h = 3_600_000_000i64;
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(vec![
                    "A", "B", "C", "D", "E", "F", "G", "H",
                ])),
                Arc::new(TimestampMicrosecondArray::from(vec![10 * h; 8]).with_timezone("UTC")),
                Arc::new(
                    TimestampMicrosecondArray::from(
                        [12, 9, 12, 12, 12, 12, 12, 12]
                            .map(|x| Some(x * h))
                            .to_vec(),
                    )
                    .with_timezone("UTC"),
                ),
                Arc::new(Int64Array::from(vec![
                    Some(2),
                    Some(1),
                    Some(0),
                    Some(1),
                    Some(1),
                    Some(1),
                    Some(1),
                    None,
                ])),
                Arc::new(BooleanArray::from(vec![
                    true, false, false, false, false, false, false, false,
                ])),
                Arc::new(Float64Array::from(vec![
                    30.0,
                    1.0,
                    1.0,
                    -5.0,
                    f64::NAN,
                    1.0,
                    1.0,
                    1.0,
                ])),
                Arc::new(StringArray::from(vec![
                    Some("1970-01-01T11:00:00Z"),
                    None,
                    None,
                    None,
                    None,
                    Some("yesterday"),
                    Some("  "),
                    None,
                ])),
            ],
        )
        .unwrap();
        let f = std::fs::File::create(dir.path().join("t.parquet")).unwrap();
        let mut w = parquet::arrow::ArrowWriter::try_new(f, schema, None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        let cfg = Sources {
            list: vec![SourceConfig {
                path: "t.parquet".into(),
                entity: Some("tickets".into()),
                ..Default::default()
            }],
            base_dir: dir.path().to_path_buf(),
            ..Default::default()
        };
        let t = load_entity(&cfg, Entity::Tickets, 1).unwrap().unwrap();
        assert_eq!((t.totals.accepted, t.totals.rejected), (3, 5));
        let got: Vec<(u64, &str, &str)> = t
            .rejects
            .iter()
            .map(|r| (r.line, r.value.as_str(), r.reason.as_str()))
            .collect();
        assert_eq!(got[0].2, "ticket resolved before it was created");
        assert_eq!(got[1], (3, "0", "contacts must be at least 1"));
        assert_eq!(
            got[2],
            (4, "-5", "negative handle seconds: must be 0 or more")
        );
        assert_eq!(got[3], (5, "NaN", "handle_seconds must be a finite number"));
        assert_eq!((got[4].0, got[4].1), (6, "yesterday"));
        assert!(
            got[4].2.starts_with("not an ISO 8601 timestamp"),
            "{}",
            got[4].2
        );
        let b = &t.batches[0];
        assert_eq!(b.num_rows(), 3);
        assert!(b.column(6).as_boolean().value(0));
        assert_eq!(
            b.column(4)
                .as_primitive::<arrow::datatypes::TimestampMicrosecondType>()
                .value(0),
            12 * h
        );
        // Contacts of A and H (none given), first responses of A and G (blank).
        let contacts = b.column(5).as_primitive::<arrow::datatypes::Int64Type>();
        assert_eq!((contacts.value(0), contacts.is_null(2)), (2, true));
        let frt = b
            .column(3)
            .as_primitive::<arrow::datatypes::TimestampMicrosecondType>();
        assert_eq!((frt.value(0), frt.is_null(1)), (11 * h, true));
        assert_eq!(
            b.column(10)
                .as_primitive::<arrow::datatypes::Float64Type>()
                .value(0),
            30.0
        );
    }
}
