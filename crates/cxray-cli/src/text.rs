//! `cxray text`: language, sentiment and themes of a text column, and `cxray text eval`.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, anyhow};
use cxray_text::Analyzer;
use cxray_text::eval::{evaluate, parse_labels};
use serde::Serialize;

use crate::Failure;
use crate::args::{FormatArg, TextArgs, TextCommand, TextEvalArgs};

/// A text table: header, rows, and the input line each row starts on.
struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    lines: Vec<u64>,
}

/// Reads a delimited file (columns named 1, 2, … without a header) or, for `.ndjson`/`.jsonl`
/// files, one JSON object per line (columns are its keys). Bytes that are not UTF-8 become
/// U+FFFD rather than stopping the run.
fn read_table(path: &Path, delimiter: Option<&str>, no_header: bool) -> Result<Table, Failure> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("{}: cannot read the file", path.display()))
        .map_err(Failure::input)?;
    let text = String::from_utf8_lossy(&bytes);
    let text = text.trim_start_matches('\u{feff}');
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    if ext == "ndjson" || ext == "jsonl" {
        return read_ndjson(path, text);
    }
    let first = text.lines().next().unwrap_or("");
    let delim = match delimiter {
        Some("\\t") => b'\t',
        Some(d) => *d.as_bytes().first().unwrap_or(&b','),
        None => [b'\t', b',', b';', b'|']
            .into_iter()
            .max_by_key(|c| first.bytes().filter(|b| b == c).count())
            .unwrap_or(b','),
    };
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delim)
        .has_headers(false)
        .flexible(true)
        .quoting(delim != b'\t')
        .from_reader(text.as_bytes());
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut lines: Vec<u64> = Vec::new();
    for r in rdr.records() {
        let r = r
            .with_context(|| format!("{}: not a readable delimited file", path.display()))
            .map_err(Failure::input)?;
        lines.push(r.position().map_or(0, |p| p.line()));
        rows.push(r.iter().map(str::to_string).collect());
    }
    if rows.is_empty() {
        return Err(Failure::input(anyhow!(
            "{}: the file is empty",
            path.display()
        )));
    }
    let header = if no_header {
        (1..=rows.iter().map(Vec::len).max().unwrap_or(0))
            .map(|i| i.to_string())
            .collect()
    } else {
        lines.remove(0);
        rows.remove(0)
    };
    Ok(Table {
        header,
        rows,
        lines,
    })
}

fn read_ndjson(path: &Path, text: &str) -> Result<Table, Failure> {
    let mut header: Vec<String> = Vec::new();
    let mut objects = Vec::new();
    for (i, l) in text.lines().enumerate() {
        if l.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(l)
            .with_context(|| format!("{}:{}: not a JSON object", path.display(), i + 1))
            .map_err(Failure::input)?;
        let serde_json::Value::Object(o) = v else {
            return Err(Failure::input(anyhow!(
                "{}:{}: not a JSON object",
                path.display(),
                i + 1
            )));
        };
        for k in o.keys() {
            if !header.contains(k) {
                header.push(k.clone());
            }
        }
        objects.push((i as u64 + 1, o));
    }
    if objects.is_empty() {
        return Err(Failure::input(anyhow!(
            "{}: the file is empty",
            path.display()
        )));
    }
    let rows = objects
        .iter()
        .map(|(_, o)| {
            header
                .iter()
                .map(|k| match o.get(k) {
                    Some(serde_json::Value::String(s)) => s.clone(),
                    Some(serde_json::Value::Null) | None => String::new(),
                    Some(v) => v.to_string(),
                })
                .collect()
        })
        .collect();
    Ok(Table {
        header,
        rows,
        lines: objects.iter().map(|(l, _)| *l).collect(),
    })
}

fn column(header: &[String], name: &str, path: &Path) -> Result<usize, Failure> {
    header.iter().position(|h| h.trim() == name).ok_or_else(|| {
        Failure::input(anyhow!(
            "{}: no column '{name}'; columns: {}",
            path.display(),
            header
                .iter()
                .take(20)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })
}

#[derive(Serialize)]
struct TextRow<'a> {
    line: u64,
    text: &'a str,
    language: &'static str,
    sentiment: f64,
    label: &'static str,
    themes: Vec<String>,
}

pub fn run(a: TextArgs) -> Result<(), Failure> {
    if let Some(TextCommand::Eval(e)) = a.eval {
        return run_eval(e);
    }
    let path = a.file.clone().ok_or_else(|| {
        Failure::input(anyhow!("cxray text needs a FILE (or the eval subcommand)"))
    })?;
    let Table {
        header,
        rows,
        lines,
    } = read_table(&path, a.delimiter.as_deref(), a.no_header)?;
    let col = column(&header, &a.column, &path)?;
    let analyzer = Analyzer::default();
    let texts: Vec<&str> = rows
        .iter()
        .map(|r| r.get(col).map(String::as_str).unwrap_or(""))
        .collect();
    let t0 = std::time::Instant::now();
    let out: Vec<TextRow> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let r = analyzer.analyze(t);
            TextRow {
                line: lines[i],
                text: t,
                language: r.language,
                sentiment: r.sentiment,
                label: r.label.as_str(),
                themes: r.themes,
            }
        })
        .collect();
    if std::env::var_os("CXRAY_TIMING").is_some() {
        let secs = t0.elapsed().as_secs_f64();
        eprintln!(
            "timing: analysed {} texts in {secs:.3} s on one thread ({:.0} texts/s)",
            out.len(),
            out.len() as f64 / secs.max(1e-9)
        );
    }
    let mut buf = String::new();
    match a.format {
        FormatArg::Json => {
            buf = serde_json::to_string_pretty(&out).map_err(Failure::runtime)?;
            buf.push('\n');
        }
        FormatArg::Csv => {
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record(["line", "language", "sentiment", "label", "themes", "text"])
                .map_err(Failure::runtime)?;
            for r in &out {
                w.write_record([
                    r.line.to_string(),
                    r.language.into(),
                    format!("{:.4}", r.sentiment),
                    r.label.into(),
                    r.themes.join(";"),
                    r.text.into(),
                ])
                .map_err(Failure::runtime)?;
            }
            buf = String::from_utf8(
                w.into_inner()
                    .map_err(|e| Failure::runtime(anyhow!("{e}")))?,
            )
            .map_err(Failure::runtime)?;
        }
        FormatArg::Table => {
            use std::fmt::Write;
            let n = out.len().max(1) as f64;
            let _ = writeln!(buf, "{} texts", out.len());
            let mut langs: BTreeMap<&str, usize> = BTreeMap::new();
            let mut labels: BTreeMap<&str, usize> = BTreeMap::new();
            let mut themes: BTreeMap<String, usize> = BTreeMap::new();
            for r in &out {
                *langs.entry(r.language).or_default() += 1;
                *labels.entry(r.label).or_default() += 1;
                for t in &r.themes {
                    *themes.entry(t.clone()).or_default() += 1;
                }
            }
            let _ = writeln!(buf, "\nlanguage");
            for (l, c) in &langs {
                let _ = writeln!(buf, "  {l:<10} {c:>8} {:>6.1}%", 100.0 * *c as f64 / n);
            }
            let _ = writeln!(buf, "\nsentiment");
            for (l, c) in &labels {
                let _ = writeln!(buf, "  {l:<10} {c:>8} {:>6.1}%", 100.0 * *c as f64 / n);
            }
            let mut t: Vec<(String, usize)> = themes.into_iter().collect();
            t.sort_by_key(|x| std::cmp::Reverse(x.1));
            let _ = writeln!(buf, "\nthemes (taxonomy)");
            for (name, c) in t.iter().take(15) {
                let _ = writeln!(buf, "  {name:<24} {c:>8} {:>6.1}%", 100.0 * *c as f64 / n);
            }
            let found = analyzer.discover_themes(&texts, 5, 15);
            if !found.is_empty() {
                let _ = writeln!(buf, "\nthemes found in the texts");
                for d in found {
                    let forms: Vec<String> = d.forms.iter().take(4).cloned().collect();
                    let _ = writeln!(
                        buf,
                        "  {:<24} {:>8}  {} ({})",
                        d.label,
                        d.documents,
                        d.language,
                        forms.join(", ")
                    );
                }
            }
        }
    }
    crate::report::write_out(&buf, a.output.as_deref())
}

fn run_eval(e: TextEvalArgs) -> Result<(), Failure> {
    let Table { header, rows, .. } = read_table(&e.file, e.delimiter.as_deref(), e.no_header)?;
    let tc = column(&header, &e.text, &e.file)?;
    let lc = column(&header, &e.label, &e.file)?;
    let langc = e
        .language
        .as_deref()
        .map(|l| column(&header, l, &e.file))
        .transpose()?;
    let raw: Vec<String> = rows
        .iter()
        .map(|r| r.get(lc).cloned().unwrap_or_default())
        .collect();
    let labels = parse_labels(&raw);
    let mut items = Vec::new();
    let mut skipped = 0;
    for (r, l) in rows.iter().zip(labels) {
        match l {
            Some(l) => items.push((
                r.get(tc).cloned().unwrap_or_default(),
                l,
                langc.and_then(|c| r.get(c).cloned()),
            )),
            None => skipped += 1,
        }
    }
    let analyzer = Analyzer::default();
    let t0 = std::time::Instant::now();
    let scores = evaluate(&analyzer, &items);
    let secs = t0.elapsed().as_secs_f64();
    if e.format == FormatArg::Json {
        let doc = serde_json::json!({"scores": scores, "skipped": skipped, "seconds": secs});
        println!(
            "{}",
            serde_json::to_string_pretty(&doc).map_err(Failure::runtime)?
        );
        return Ok(());
    }
    println!(
        "{:<10} {:>7} {:>8} {:>9} {:>8}",
        "language", "n", "accuracy", "macro-F1", "classes"
    );
    for (l, s) in &scores {
        println!(
            "{l:<10} {:>7} {:>8.3} {:>9.3} {:>8}",
            s.n, s.accuracy, s.macro_f1, s.classes
        );
    }
    if skipped > 0 {
        println!("{skipped} rows skipped: unreadable label");
    }
    eprintln!(
        "{} texts in {secs:.2} s ({:.0} texts/s)",
        items.len(),
        items.len() as f64 / secs.max(1e-9)
    );
    Ok(())
}
