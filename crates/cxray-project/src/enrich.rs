//! Text enrichment: every comment gets its language, sentiment and themes as ordinary columns,
//! so they work as dimensions (`--by comment_label`, `--by comment_themes`) and feed the
//! report's themes section.
//!
//! Columns added after the segment attributes (null where a response has no comment):
//!
//! | column | type | content |
//! |---|---|---|
//! | `comment_language` | dictionary | ISO 639-1 code or `unknown` |
//! | `comment_sentiment` | float | score in [-1, 1] |
//! | `comment_label` | dictionary | `negative`, `neutral`, `positive` |
//! | `comment_themes` | dictionary | the comment's themes, sorted, joined by `|`; empty string when none |
//!
//! Themes come from the built-in taxonomy, the project's `[themes]`, and (unless turned off)
//! up to `[text] discover` themes found in a sample of the comments themselves.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, Float64Builder, RecordBatch, StringDictionaryBuilder,
};
use arrow::datatypes::{DataType, Field, Int32Type, Schema};
use cxray_text::{Analyzer, DiscoveredTheme, ThemeDef};

use cxray_ingest::Loaded;

/// Names of the columns [`enrich_comments`] adds.
pub const TEXT_COLUMNS: [&str; 4] = [
    "comment_language",
    "comment_sentiment",
    "comment_label",
    "comment_themes",
];

/// Separator of themes in `comment_themes`.
pub const THEME_SEPARATOR: char = '|';

/// Settings of the enrichment.
#[derive(Debug, Clone, Default)]
pub struct TextOptions {
    /// The project's themes (added to the built-in taxonomy).
    pub themes: Vec<ThemeDef>,
    /// Maximum number of discovered themes (0: none).
    pub discover: usize,
    /// Worker threads.
    pub threads: usize,
}

/// What the enrichment did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TextSummary {
    /// Responses with a non-blank comment.
    pub comments: u64,
    /// All theme names in use, taxonomy first.
    pub themes: Vec<String>,
    /// The themes that were discovered in the comments (also listed in `themes`).
    pub discovered: Vec<DiscoveredTheme>,
}

/// Most comments read to discover themes.
const DISCOVERY_SAMPLE: usize = 20_000;

fn comments(b: &RecordBatch) -> Option<&arrow::array::StringArray> {
    b.column_by_name("comment")?.as_string_opt::<i32>()
}

/// Analyses every comment of `loaded` and appends the text columns. Does nothing (and returns
/// `None`) when there are no comments or the columns are already present.
pub fn enrich_comments(loaded: &mut Loaded, opts: &TextOptions) -> Option<TextSummary> {
    if loaded.schema.index_of(TEXT_COLUMNS[0]).is_ok() {
        return None;
    }
    let total: usize = loaded
        .batches
        .iter()
        .filter_map(comments)
        .map(|c| c.len() - c.null_count())
        .sum();
    if total == 0 {
        return None;
    }
    // Discovery on an evenly spread sample.
    let mut discovered = Vec::new();
    let mut defs = opts.themes.clone();
    if opts.discover > 0 {
        let step = total.div_ceil(DISCOVERY_SAMPLE).max(1);
        let mut sample: Vec<&str> = Vec::new();
        let mut k = 0usize;
        for c in loaded.batches.iter().filter_map(comments) {
            for t in c.iter().flatten() {
                if k.is_multiple_of(step) && !t.trim().is_empty() {
                    sample.push(t);
                }
                k += 1;
            }
        }
        let base = Analyzer::with_extra_themes(&defs);
        let min_docs = (sample.len() as u64 / 50).max(10);
        discovered = base.discover_themes(&sample, min_docs, opts.discover);
        for d in &discovered {
            if !defs.iter().any(|x| x.name == d.label) {
                defs.push(ThemeDef {
                    name: d.label.clone(),
                    keywords: d.forms.clone(),
                });
            }
        }
    }
    let analyzer = Analyzer::with_extra_themes(&defs);
    let threads = opts.threads.max(1);
    let batches = std::mem::take(&mut loaded.batches);
    let mut out: Vec<Option<(RecordBatch, u64)>> = (0..batches.len()).map(|_| None).collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(&mut out);
    std::thread::scope(|s| {
        for _ in 0..threads.min(batches.len()) {
            s.spawn(|| {
                let mut seen = Seen::default();
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(b) = batches.get(i) else { break };
                    let r = enrich_batch(b, &analyzer, &mut seen);
                    results.lock().expect("no panics while locked")[i] = Some(r);
                }
            });
        }
    });
    let mut n_comments = 0;
    loaded.batches = out
        .into_iter()
        .map(|r| {
            let (b, n) = r.expect("every batch was enriched");
            n_comments += n;
            b
        })
        .collect();
    loaded.schema = enriched_schema(&loaded.schema);
    Some(TextSummary {
        comments: n_comments,
        themes: analyzer.theme_names().to_vec(),
        discovered,
    })
}

fn enriched_schema(schema: &Schema) -> Arc<Schema> {
    let dict = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new(TEXT_COLUMNS[0], dict.clone(), true));
    fields.push(Field::new(TEXT_COLUMNS[1], DataType::Float64, true));
    fields.push(Field::new(TEXT_COLUMNS[2], dict.clone(), true));
    fields.push(Field::new(TEXT_COLUMNS[3], dict, true));
    Arc::new(Schema::new(fields))
}

/// Analyses of short texts already seen by one thread: identical comments ("Great service",
/// "ok", "-") are analysed once. Texts up to `SEEN_BYTES` long, at most `SEEN_TEXTS` of them.
type Seen<'a> = std::collections::HashMap<
    &'a str,
    (&'static str, f64, &'static str, String),
    std::hash::BuildHasherDefault<cxray_kernels::IdHasher>,
>;
const SEEN_BYTES: usize = 256;
const SEEN_TEXTS: usize = 200_000;

fn enrich_batch<'a>(
    b: &'a RecordBatch,
    analyzer: &Analyzer,
    seen: &mut Seen<'a>,
) -> (RecordBatch, u64) {
    let n = b.num_rows();
    let mut lang = StringDictionaryBuilder::<Int32Type>::new();
    let mut sent = Float64Builder::with_capacity(n);
    let mut label = StringDictionaryBuilder::<Int32Type>::new();
    let mut themes = StringDictionaryBuilder::<Int32Type>::new();
    let mut count = 0u64;
    let mut joined = String::new();
    let c = comments(b);
    for i in 0..n {
        let text = c.and_then(|c| (!c.is_null(i)).then(|| c.value(i)));
        match text.filter(|t| !t.trim().is_empty()) {
            None => {
                lang.append_null();
                sent.append_null();
                label.append_null();
                themes.append_null();
            }
            Some(t) => {
                count += 1;
                if let Some((l, v, lb, th)) = seen.get(t) {
                    lang.append_value(l);
                    sent.append_value(*v);
                    label.append_value(lb);
                    themes.append_value(th);
                    continue;
                }
                let a = analyzer.analyze(t);
                lang.append_value(a.language);
                sent.append_value(a.sentiment);
                label.append_value(a.label.as_str());
                joined.clear();
                for (k, th) in a.themes.iter().enumerate() {
                    if k > 0 {
                        joined.push(THEME_SEPARATOR);
                    }
                    joined.push_str(th);
                }
                themes.append_value(&joined);
                if t.len() <= SEEN_BYTES && seen.len() < SEEN_TEXTS {
                    seen.insert(
                        t,
                        (a.language, a.sentiment, a.label.as_str(), joined.clone()),
                    );
                }
            }
        }
    }
    let schema = enriched_schema(&b.schema());
    let mut cols: Vec<ArrayRef> = b.columns().to_vec();
    cols.push(Arc::new(lang.finish()));
    cols.push(Arc::new(sent.finish()));
    cols.push(Arc::new(label.finish()));
    cols.push(Arc::new(themes.finish()));
    (
        RecordBatch::try_new(schema, cols).expect("columns match the enriched schema"),
        count,
    )
}

/// Splits a `comment_themes` value into theme names.
pub fn split_themes(v: &str) -> impl Iterator<Item = &str> {
    v.split(THEME_SEPARATOR).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Date32Array, Float64Array, StringArray, TimestampMicrosecondArray};
    use cxray_ingest::{Counts, responses_schema};

    fn loaded(comments: Vec<Option<&str>>) -> Loaded {
        let n = comments.len();
        let schema = responses_schema(&[]);
        let dict = |v: &str| -> ArrayRef {
            let mut b = StringDictionaryBuilder::<Int32Type>::new();
            for _ in 0..n {
                b.append_value(v);
            }
            Arc::new(b.finish())
        };
        let cols: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from_iter_values(
                (0..n).map(|i| format!("r{i}")),
            )),
            Arc::new(StringArray::from(vec![None::<&str>; n])),
            Arc::new(TimestampMicrosecondArray::from(vec![0i64; n]).with_timezone("UTC")),
            Arc::new(Date32Array::from(vec![0; n])),
            dict("nps"),
            Arc::new(Float64Array::from(vec![5.0; n])),
            Arc::new(Float64Array::from(vec![1.0; n])),
            Arc::new(StringArray::from(comments)),
        ];
        let batch = RecordBatch::try_new(schema.clone(), cols).unwrap();
        Loaded {
            schema,
            batches: vec![batch.clone(), batch],
            rejects: vec![],
            sources: vec![],
            totals: Counts::default(),
            attributes: vec![],
        }
    }

    #[test]
    fn adds_columns_with_nulls_for_missing_comments() {
        let mut l = loaded(vec![
            Some("The parcel arrived two weeks late, terrible."),
            None,
            Some("   "),
            Some("Heel vriendelijk personeel, echt een aanrader!"),
            Some("ok"),
        ]);
        let s = enrich_comments(
            &mut l,
            &TextOptions {
                threads: 2,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(
            s.comments, 6,
            "three non-blank comments in each of two batches"
        );
        assert!(s.discovered.is_empty(), "discovery is off");
        for b in &l.batches {
            assert_eq!(b.schema(), l.schema);
            let th = b.column_by_name("comment_themes").unwrap();
            let th = arrow::compute::cast(th, &DataType::Utf8).unwrap();
            let th = th.as_string::<i32>();
            assert_eq!(th.value(0), "delivery");
            assert!(th.is_null(1) && th.is_null(2), "no comment, no themes");
            assert_eq!(
                th.value(4),
                "",
                "a comment without a theme is empty, not null"
            );
            let lab =
                arrow::compute::cast(b.column_by_name("comment_label").unwrap(), &DataType::Utf8)
                    .unwrap();
            let lab = lab.as_string::<i32>();
            assert_eq!(lab.value(0), "negative");
            assert_eq!(lab.value(3), "positive");
            let lang = arrow::compute::cast(
                b.column_by_name("comment_language").unwrap(),
                &DataType::Utf8,
            )
            .unwrap();
            assert_eq!(lang.as_string::<i32>().value(3), "nl");
        }
        // A second call leaves the table alone.
        assert!(enrich_comments(&mut l, &TextOptions::default()).is_none());
    }

    #[test]
    fn no_comments_no_columns() {
        let mut l = loaded(vec![None, None]);
        assert!(enrich_comments(&mut l, &TextOptions::default()).is_none());
        assert!(l.schema.index_of("comment_themes").is_err());
    }

    /// Repeated comments (analysed once per thread) get the same columns as a fresh analysis,
    /// and so do long comments, which are not remembered.
    #[test]
    fn repeated_comments_match_a_fresh_analysis() {
        let long = format!(
            "The delivery was late. {}",
            "Nothing else to say. ".repeat(20)
        );
        let texts = [
            "Great service, thank you!",
            "ok",
            "The parcel arrived two weeks late, terrible.",
            long.as_str(),
        ];
        let comments: Vec<Option<&str>> = (0..40).map(|i| Some(texts[i % texts.len()])).collect();
        let mut l = loaded(comments.clone());
        enrich_comments(
            &mut l,
            &TextOptions {
                threads: 1,
                ..Default::default()
            },
        )
        .unwrap();
        let analyzer = Analyzer::default();
        let text = |b: &RecordBatch, name: &str| {
            arrow::compute::cast(b.column_by_name(name).unwrap(), &DataType::Utf8).unwrap()
        };
        for b in &l.batches {
            let (lang, label, themes) = (
                text(b, "comment_language"),
                text(b, "comment_label"),
                text(b, "comment_themes"),
            );
            let sent = b.column_by_name("comment_sentiment").unwrap();
            let sent = sent.as_primitive::<arrow::datatypes::Float64Type>();
            for (i, t) in comments.iter().enumerate() {
                let a = analyzer.analyze(t.unwrap());
                assert_eq!(lang.as_string::<i32>().value(i), a.language);
                assert_eq!(sent.value(i), a.sentiment);
                assert_eq!(label.as_string::<i32>().value(i), a.label.as_str());
                assert_eq!(
                    themes.as_string::<i32>().value(i),
                    a.themes.join(&THEME_SEPARATOR.to_string())
                );
            }
        }
    }

    #[test]
    fn project_themes_are_used() {
        let mut l = loaded(vec![Some("The loyalty points never showed up")]);
        let s = enrich_comments(
            &mut l,
            &TextOptions {
                themes: vec![ThemeDef {
                    name: "loyalty".into(),
                    keywords: vec!["points".into(), "loyalty".into()],
                }],
                discover: 0,
                threads: 1,
            },
        )
        .unwrap();
        assert!(s.themes.contains(&"loyalty".to_string()));
        let th = arrow::compute::cast(
            l.batches[0].column_by_name("comment_themes").unwrap(),
            &DataType::Utf8,
        )
        .unwrap();
        assert_eq!(th.as_string::<i32>().value(0), "loyalty");
    }

    #[test]
    fn split_themes_skips_empty() {
        assert_eq!(
            split_themes("delivery|price").collect::<Vec<_>>(),
            ["delivery", "price"]
        );
        assert_eq!(split_themes("").count(), 0);
    }
}
