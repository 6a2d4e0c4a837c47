//! Any delimited or NDJSON file read as a table of text, for tools that need one column of an
//! arbitrary file rather than a canonical entity (`cxray text`, `cxray text eval`). Encodings,
//! byte-order marks and delimiters are handled as for every source; bytes that are not UTF-8
//! become U+FFFD instead of stopping the run (a comment column is read, not validated).

use std::path::Path;

use crate::error::IngestError;
use crate::text::{read_text_checked, sniff_delimiter};

/// How to read a [`TextTable`].
#[derive(Debug, Clone, Default)]
pub struct TableOptions {
    /// A single character (`\t` for tab); detected when absent.
    pub delimiter: Option<String>,
    /// The file has no header row: columns are named 1, 2, 3, …
    pub no_header: bool,
    /// A WHATWG label such as `windows-1252` when the file is not UTF-8 or UTF-16.
    pub encoding: Option<String>,
}

/// A file as rows of text.
#[derive(Debug, Clone, PartialEq)]
pub struct TextTable {
    /// Column names (1, 2, … without a header row).
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// The line each row starts on (1-based).
    pub lines: Vec<u64>,
}

impl TextTable {
    /// The index of the column `name` (compared without surrounding blanks).
    pub fn column(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h.trim() == name)
    }
}

/// Reads a delimited file or, for `.ndjson`/`.jsonl`, one JSON object per line (columns are
/// the union of the objects' keys in order of first appearance; non-string values as JSON).
pub fn read_table(path: &Path, opts: &TableOptions) -> Result<TextTable, IngestError> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let bytes = read_text_checked(path, opts.encoding.as_deref(), false)?;
    let text = String::from_utf8_lossy(&bytes);
    if ext == "ndjson" || ext == "jsonl" {
        return read_ndjson(path, &text);
    }
    let delim = match opts.delimiter.as_deref() {
        Some("\\t") => b'\t',
        Some(d) => *d.as_bytes().first().unwrap_or(&b','),
        None => sniff_delimiter(text.as_bytes()),
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
        let r = r.map_err(|e| IngestError::Format {
            path: path.to_path_buf(),
            message: format!("not a readable delimited file: {e}"),
        })?;
        lines.push(r.position().map_or(0, |p| p.line()));
        rows.push(r.iter().map(str::to_string).collect());
    }
    if rows.is_empty() {
        return Err(IngestError::Empty {
            path: path.to_path_buf(),
        });
    }
    let header = if opts.no_header {
        (1..=rows.iter().map(Vec::len).max().unwrap_or(0))
            .map(|i| i.to_string())
            .collect()
    } else {
        lines.remove(0);
        rows.remove(0)
    };
    Ok(TextTable {
        header,
        rows,
        lines,
    })
}

fn read_ndjson(path: &Path, text: &str) -> Result<TextTable, IngestError> {
    let mut header: Vec<String> = Vec::new();
    let mut objects = Vec::new();
    for (i, l) in text.lines().enumerate() {
        if l.trim().is_empty() {
            continue;
        }
        let not_object = || IngestError::Format {
            path: path.to_path_buf(),
            message: format!("line {}: not a JSON object", i + 1),
        };
        let serde_json::Value::Object(o) =
            serde_json::from_str::<serde_json::Value>(l).map_err(|_| not_object())?
        else {
            return Err(not_object());
        };
        for k in o.keys() {
            if !header.contains(k) {
                header.push(k.clone());
            }
        }
        objects.push((i as u64 + 1, o));
    }
    if objects.is_empty() {
        return Err(IngestError::Empty {
            path: path.to_path_buf(),
        });
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
    Ok(TextTable {
        header,
        rows,
        lines: objects.iter().map(|(l, _)| *l).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(name: &str, bytes: &[u8], opts: &TableOptions) -> TextTable {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        read_table(&p, opts).unwrap()
    }

    #[test]
    fn delimited_files_keep_their_lines_and_replace_bad_bytes() {
        let t = table(
            "c.csv",
            b"id;comment\n1;\"two\nlines\"\n2;bad \xff byte\n",
            &TableOptions::default(),
        );
        assert_eq!(t.header, ["id", "comment"]);
        assert_eq!(t.lines, [2, 4]);
        assert_eq!(t.rows[0][1], "two\nlines");
        assert!(t.rows[1][1].contains('\u{fffd}'));
        assert_eq!(t.column("comment"), Some(1));
        // UTF-16 with a byte-order mark, as Excel's "Unicode text" writes it.
        let mut utf16 = vec![0xFF, 0xFE];
        for u in "a\tb\n1\tzwei\n".encode_utf16() {
            utf16.extend(u.to_le_bytes());
        }
        let t = table("u.txt", &utf16, &TableOptions::default());
        assert_eq!(t.rows, [["1", "zwei"]]);
        let t = table(
            "n.csv",
            b"x,1\ny,2\n",
            &TableOptions {
                no_header: true,
                ..Default::default()
            },
        );
        assert_eq!(t.header, ["1", "2"]);
        assert_eq!(t.lines, [1, 2]);
    }

    #[test]
    fn ndjson_columns_are_the_union_of_keys() {
        let t = table(
            "c.ndjson",
            b"{\"a\":\"x\",\"n\":1}\n\n{\"b\":null,\"a\":\"y\"}\n",
            &TableOptions::default(),
        );
        assert_eq!(t.header, ["a", "n", "b"]);
        assert_eq!(t.rows, [["x", "1", ""], ["y", "", ""]]);
        assert_eq!(t.lines, [1, 3]);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.jsonl");
        std::fs::write(&p, b"{\"a\":1}\n[1]\n").unwrap();
        let e = read_table(&p, &TableOptions::default()).unwrap_err();
        assert!(e.to_string().contains("line 2: not a JSON object"), "{e}");
    }
}
