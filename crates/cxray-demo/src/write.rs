//! Minimal CSV writing for the generator (RFC 4180 quoting).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

pub struct CsvFile {
    name: String,
    out: BufWriter<File>,
    rows: u64,
}

fn push_field(line: &mut String, f: &str) {
    if f.contains([',', '"', '\n', '\r']) {
        line.push('"');
        line.push_str(&f.replace('"', "\"\""));
        line.push('"');
    } else {
        line.push_str(f);
    }
}

impl CsvFile {
    pub fn create(path: &Path, header: &[&str]) -> std::io::Result<Self> {
        let mut f = CsvFile {
            name: path.file_name().unwrap().to_string_lossy().into_owned(),
            out: BufWriter::with_capacity(1 << 20, File::create(path)?),
            rows: 0,
        };
        f.write_line(header)?;
        Ok(f)
    }

    fn write_line(&mut self, fields: &[&str]) -> std::io::Result<()> {
        let mut line = String::with_capacity(128);
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                line.push(',');
            }
            push_field(&mut line, f);
        }
        line.push('\n');
        self.out.write_all(line.as_bytes())
    }

    pub fn row(&mut self, fields: &[&str]) -> std::io::Result<()> {
        self.rows += 1;
        self.write_line(fields)
    }

    /// Flushes and returns (file name, data rows).
    pub fn finish(mut self) -> std::io::Result<(String, u64)> {
        self.out.flush()?;
        Ok((self.name, self.rows))
    }
}
