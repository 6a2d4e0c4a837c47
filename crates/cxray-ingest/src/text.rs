//! Getting a delimited text file into UTF-8 and finding its shape: byte-order marks, UTF-16
//! exports (Excel's "Unicode text", some survey tools), legacy single-byte encodings on request,
//! delimiter detection, and the split of a large file into chunks that parse in parallel.

use std::path::Path;

use crate::error::IngestError;

/// The bytes of a text source in UTF-8: the file itself, memory-mapped (no copy, no page
/// zeroing), or an owned transcoded copy for UTF-16 and legacy encodings.
pub(crate) enum Text {
    Mapped(memmap2::Mmap, usize),
    /// Content handed over in memory ([`crate::Content`]: a request body, the store's rows).
    Shared(std::sync::Arc<[u8]>, usize),
    Owned(Vec<u8>),
}

impl std::ops::Deref for Text {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Text::Mapped(m, offset) => &m[*offset..],
            Text::Shared(b, offset) => &b[*offset..],
            Text::Owned(v) => v,
        }
    }
}

/// The decoded bytes of a text source (UTF-8 except for rare invalid sequences, which are
/// rejected per row).
pub(crate) fn read_text(path: &Path, encoding: Option<&str>) -> Result<Text, IngestError> {
    read_text_checked(path, encoding, true)
}

/// The decoded text of a source: its [`crate::Content`] when it has one, else its file.
pub(crate) fn source_text(path: &Path, src: &crate::SourceConfig) -> Result<Text, IngestError> {
    match &src.content {
        Some(c) if c.0.is_empty() => Err(IngestError::Empty {
            path: path.to_path_buf(),
        }),
        Some(c) => decode(
            path,
            Raw::Shared(c.0.clone()),
            src.encoding.as_deref(),
            true,
        ),
        None => read_text(path, src.encoding.as_deref()),
    }
}

/// Undecoded bytes: a mapped file or shared memory.
enum Raw {
    Mapped(memmap2::Mmap),
    Shared(std::sync::Arc<[u8]>),
}

impl Raw {
    fn bytes(&self) -> &[u8] {
        match self {
            Raw::Mapped(m) => m,
            Raw::Shared(b) => b,
        }
    }

    /// The text from `offset` on, without a copy.
    fn text(self, offset: usize) -> Text {
        match self {
            Raw::Mapped(m) => Text::Mapped(m, offset),
            Raw::Shared(b) => Text::Shared(b, offset),
        }
    }
}

/// [`read_text`]; without `check_utf8`, a file with many invalid UTF-8 lines is returned as it
/// is (for readers that replace invalid bytes rather than reject rows).
pub(crate) fn read_text_checked(
    path: &Path,
    encoding: Option<&str>,
    check_utf8: bool,
) -> Result<Text, IngestError> {
    let io = |e: std::io::Error| {
        IngestError::Io {
        path: path.to_path_buf(),
        message: match e.kind() {
            std::io::ErrorKind::NotFound => {
                "file not found; check the path (relative paths in cxray.toml are relative to the config file)".into()
            }
            _ => e.to_string(),
        },
    }
    };
    let file = std::fs::File::open(path).map_err(io)?;
    if file.metadata().map_err(io)?.len() == 0 {
        return Err(IngestError::Empty {
            path: path.to_path_buf(),
        });
    }
    // SAFETY: the map is read-only and lives as long as the load. If another process truncates
    // the file meanwhile, reads may fault; survey exports are not modified while being read,
    // and copying gigabytes into memory instead costs more than the whole analysis.
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io)?;
    decode(path, Raw::Mapped(map), encoding, check_utf8)
}

/// Bytes in UTF-8: BOMs dropped, UTF-16 and the encoding asked for transcoded.
fn decode(
    path: &Path,
    source: Raw,
    encoding: Option<&str>,
    check_utf8: bool,
) -> Result<Text, IngestError> {
    let raw: &[u8] = source.bytes();
    let enc_err = |message: String| IngestError::Encoding {
        path: path.to_path_buf(),
        message,
    };
    if let Some(label) = encoding {
        let lower = label.to_ascii_lowercase();
        if lower != "utf-8" && lower != "utf8" {
            let enc = encoding_rs::Encoding::for_label(label.as_bytes()).ok_or_else(|| {
                enc_err(format!(
                    "unknown encoding '{label}'; use a WHATWG label such as utf-8, utf-16le or windows-1252"
                ))
            })?;
            let (text, _, _) = enc.decode(raw);
            return Ok(Text::Owned(text.into_owned().into_bytes()));
        }
    }
    if raw.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return Ok(source.text(3));
    }
    if raw.starts_with(&[0xFF, 0xFE])
        || raw.starts_with(&[0xFE, 0xFF])
        || looks_utf16(raw).is_some()
    {
        let enc = if raw.starts_with(&[0xFF, 0xFE]) {
            encoding_rs::UTF_16LE
        } else if raw.starts_with(&[0xFE, 0xFF]) {
            encoding_rs::UTF_16BE
        } else {
            looks_utf16(raw).unwrap()
        };
        let (text, _, had_errors) = enc.decode(raw);
        if had_errors {
            return Err(enc_err(format!(
                "looks like {} but contains invalid sequences; re-export as UTF-8 CSV",
                enc.name()
            )));
        }
        return Ok(Text::Owned(text.into_owned().into_bytes()));
    }
    // Many lines of invalid UTF-8 near the start mean the whole file is in another encoding;
    // a stray bad byte is rejected with its row instead.
    let head = &raw[..raw.len().min(64 * 1024)];
    let mut lines = 0usize;
    let mut bad = 0usize;
    let mut first_bad: Option<(usize, u8)> = None;
    for (i, line) in head.split(|&b| b == b'\n').enumerate() {
        lines += 1;
        if let Err(e) = std::str::from_utf8(line)
            && e.error_len().is_some()
        {
            bad += 1;
            first_bad.get_or_insert((i + 1, line[e.valid_up_to()]));
        }
    }
    if let Some((line, byte)) = first_bad
        && check_utf8
        && bad * 10 >= lines
    {
        return Err(enc_err(format!(
            "not valid UTF-8 (byte 0x{byte:02X} on line {line}, and {bad} of the first {lines} lines); \
             if the file was exported from Excel or a Windows tool, set encoding = \"windows-1252\" \
             for this source in cxray.toml"
        )));
    }
    Ok(source.text(0))
}

/// UTF-16 without a byte-order mark: many zero bytes at odd (LE) or even (BE) positions.
fn looks_utf16(raw: &[u8]) -> Option<&'static encoding_rs::Encoding> {
    let sample = &raw[..raw.len().min(2000)];
    if sample.len() < 8 {
        return None;
    }
    let pairs = sample.len() / 2;
    let zero_odd = sample
        .iter()
        .skip(1)
        .step_by(2)
        .filter(|&&b| b == 0)
        .count();
    let zero_even = sample.iter().step_by(2).filter(|&&b| b == 0).count();
    if zero_odd * 10 >= pairs * 3 && zero_even * 10 < pairs {
        Some(encoding_rs::UTF_16LE)
    } else if zero_even * 10 >= pairs * 3 && zero_odd * 10 < pairs {
        Some(encoding_rs::UTF_16BE)
    } else {
        None
    }
}

const CANDIDATES: [u8; 4] = [b',', b';', b'\t', b'|'];

/// Detects the delimiter from the first lines: the candidate that splits every sampled line
/// into the same number (> 1) of fields, preferring the most fields.
pub(crate) fn sniff_delimiter(text: &[u8]) -> u8 {
    let mut lines: Vec<[usize; 4]> = Vec::new();
    let mut counts = [0usize; 4];
    let mut in_quotes = false;
    for &b in text.iter().take(64 * 1024) {
        match b {
            b'"' => in_quotes = !in_quotes,
            b'\n' if !in_quotes => {
                lines.push(counts);
                counts = [0; 4];
                if lines.len() >= 20 {
                    break;
                }
            }
            _ if !in_quotes => {
                if let Some(i) = CANDIDATES.iter().position(|&c| c == b) {
                    counts[i] += 1;
                }
            }
            _ => {}
        }
    }
    if lines.is_empty() || counts.iter().any(|&c| c > 0) && lines.len() < 20 {
        lines.push(counts);
    }
    let mut best: Option<(usize, usize)> = None; // (candidate index, fields)
    for i in 0..CANDIDATES.len() {
        let first = lines[0][i];
        if first == 0 {
            continue;
        }
        let consistent = lines
            .iter()
            .filter(|l| l.iter().any(|&c| c > 0))
            .all(|l| l[i] == first);
        if consistent && best.is_none_or(|(_, f)| first > f) {
            best = Some((i, first));
        }
    }
    match best {
        Some((i, _)) => CANDIDATES[i],
        None => {
            // No candidate is consistent: take the most frequent one on the header line.
            let h = lines[0];
            let (i, &c) = h.iter().enumerate().max_by_key(|(_, c)| **c).unwrap();
            if c > 0 { CANDIDATES[i] } else { b',' }
        }
    }
}

/// A byte range of the body that starts at a record boundary, with its first line number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Chunk {
    pub start: usize,
    pub end: usize,
    /// 1-based line number of the first line of the chunk.
    pub first_line: u64,
}

/// Splits `text[body_start..]` into about `n` chunks at record boundaries: newlines outside
/// quoted fields (found by tracking quote parity from the start of the body).
pub(crate) fn split_chunks(
    text: &[u8],
    body_start: usize,
    body_first_line: u64,
    n: usize,
) -> Vec<Chunk> {
    let len = text.len();
    if body_start >= len {
        return vec![];
    }
    let target = ((len - body_start) / n.max(1)).max(1 << 20);
    let mut bounds = vec![body_start];
    // `in_quotes` is the quote parity of text[body_start..scanned].
    let mut scanned = body_start;
    let mut in_quotes = false;
    let mut cand = body_start + target;
    while cand < len {
        in_quotes ^= memchr::memchr_iter(b'"', &text[scanned..cand]).count() % 2 == 1;
        scanned = cand;
        // The next newline outside quotes ends the chunk.
        let split = loop {
            let Some(off) = memchr::memchr2(b'"', b'\n', &text[scanned..]) else {
                break None;
            };
            let at = scanned + off;
            scanned = at + 1;
            if text[at] == b'"' {
                in_quotes = !in_quotes;
            } else if !in_quotes {
                break Some(at + 1);
            }
        };
        match split {
            Some(s) if s < len => {
                bounds.push(s);
                cand = s + target;
            }
            _ => break,
        }
    }
    bounds.push(len);
    let mut chunks = Vec::with_capacity(bounds.len() - 1);
    let mut line = body_first_line;
    for w in bounds.windows(2) {
        chunks.push(Chunk {
            start: w[0],
            end: w[1],
            first_line: line,
        });
        line += memchr::memchr_iter(b'\n', &text[w[0]..w[1]]).count() as u64;
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiters() {
        assert_eq!(sniff_delimiter(b"a,b,c\n1,2,3\n"), b',');
        assert_eq!(sniff_delimiter(b"a;b;c\n1;2,5;3\n"), b';');
        assert_eq!(sniff_delimiter(b"a\tb\n1\t2\n"), b'\t');
        assert_eq!(sniff_delimiter(b"\"x,y\";b\n\"1,2\";3\n"), b';');
        assert_eq!(sniff_delimiter(b"single\n1\n"), b',');
        assert_eq!(sniff_delimiter(b"a|b|c"), b'|');
    }

    #[test]
    fn chunks_respect_quotes_and_count_lines() {
        // Records with quoted newlines; force tiny chunks by repeating.
        let mut text = b"id,comment\n".to_vec();
        for i in 0..200_000 {
            text.extend_from_slice(
                format!("{i},\"line one\nline two, \"\"quoted\"\"\"\n").as_bytes(),
            );
        }
        let chunks = split_chunks(&text, 11, 2, 4);
        assert!(chunks.len() > 1);
        assert_eq!(chunks.first().unwrap().start, 11);
        assert_eq!(chunks.last().unwrap().end, text.len());
        for c in &chunks {
            // Every chunk starts with a record: digits then a comma.
            let head = std::str::from_utf8(&text[c.start..c.start + 12]).unwrap();
            let id: u64 = head.split(',').next().unwrap().parse().unwrap();
            // Each record spans two lines, starting at line 2.
            assert_eq!(c.first_line, 2 + 2 * id, "{head}");
        }
    }

    #[test]
    fn utf16_detection() {
        let s = "id,score\n1,9\n";
        let le: Vec<u8> = s.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
        assert_eq!(looks_utf16(&le), Some(encoding_rs::UTF_16LE));
        let be: Vec<u8> = s.encode_utf16().flat_map(|u| u.to_be_bytes()).collect();
        assert_eq!(looks_utf16(&be), Some(encoding_rs::UTF_16BE));
        assert_eq!(looks_utf16(s.as_bytes()), None);
    }
}
