//! Rejected rows: every row that is not used is reported with file, line, column, value and
//! reason, and counted, so that rows read = accepted + rejected always holds.

use std::io::Write;

use serde::Serialize;

/// One rejected row (or, in the wide layout, the answers of one row that share a problem).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reject {
    pub file: String,
    /// 1-based physical line where the row starts (for Parquet: the 1-based row number).
    pub line: u64,
    pub column: String,
    pub value: String,
    pub reason: String,
    /// Answers lost with this rejection (1 in the long layout).
    pub answers: u64,
}

impl std::fmt::Display for Reject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: column '{}', value {:?}: {}",
            self.file, self.line, self.column, self.value, self.reason
        )
    }
}

/// Longest value kept in a rejects report (values are cut, with an ellipsis).
pub const MAX_VALUE_CHARS: usize = 200;

pub(crate) fn clip_value(v: &str) -> String {
    if v.chars().count() <= MAX_VALUE_CHARS {
        v.to_string()
    } else {
        let mut s: String = v.chars().take(MAX_VALUE_CHARS).collect();
        s.push('…');
        s
    }
}

/// Writes rejects as CSV with a header (file,line,column,value,reason,answers).
pub fn write_rejects_csv<W: Write>(w: W, rejects: &[Reject]) -> std::io::Result<()> {
    let mut wr = csv::Writer::from_writer(w);
    wr.write_record(["file", "line", "column", "value", "reason", "answers"])?;
    for r in rejects {
        wr.write_record([
            r.file.as_str(),
            &r.line.to_string(),
            &r.column,
            &r.value,
            &r.reason,
            &r.answers.to_string(),
        ])?;
    }
    wr.flush()
}
