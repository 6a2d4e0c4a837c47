//! Sentiment accuracy and macro-F1 on labelled CSV files, split into a dev half (even rows) and
//! a held-out half (odd rows), for tuning without overfitting. The data are not part of the
//! crate; point `--data` at a folder laid out like `../shared/data` (the Spanish sets are read
//! from the repository's bench/data, written by bench/fetch_es_eval.py).
//!
//! ```text
//! cargo run --release -p cxray-text --example eval -- --data ../shared/data
//! cargo run --release -p cxray-text --example eval -- --data ../shared/data --dump nl 40
//! ```
//!
//! `--dump SET N` prints the N most confidently wrong texts of the dev half of one set (`all`
//! for every set); with `--zero`, the texts that score exactly 0 instead.

use cxray_text::eval::{EvalScores, parse_labels, score_pairs};
use cxray_text::{Analyzer, Label};

/// A labelled set: name, path under the data folder, header?, text column, label column. Files
/// ending in .txt are tab-separated without quoting (the VADER ground truth: id, mean rating in
/// [-4, 4], text; rows with |rating| < 0.5 are left out, the rest judged on the sign).
const SETS: &[(&str, &str, bool, usize, usize)] = &[
    ("en", "twitter-airline-sentiment/Tweets.csv", true, 10, 1),
    (
        "nl",
        "multilingual-reviews-nl-fr-de/polarity-nl-bol.com.csv",
        false,
        1,
        0,
    ),
    (
        "fr",
        "multilingual-reviews-nl-fr-de/polarity-fr-amazon.csv",
        false,
        0,
        1,
    ),
    (
        "de",
        "multilingual-reviews-nl-fr-de/polarity-de-amazon.csv",
        false,
        1,
        0,
    ),
    ("zh-waimai", "chinese-reviews/waimai_10k.csv", true, 1, 0),
    // Written by bench/fetch_es_eval.py into the repository's bench/data.
    ("es-2", "bench/data/es-evomsa-2class.csv", true, 0, 1),
    ("es-3", "bench/data/es-evomsa-3class.csv", true, 0, 1),
    (
        "zh-hotel",
        "chinese-reviews/ChnSentiCorp_htl_all.csv",
        true,
        1,
        0,
    ),
    (
        "en-vader-tweets",
        "vader-groundtruth/tweets_GroundTruth.txt",
        false,
        2,
        1,
    ),
    (
        "en-vader-amazon",
        "vader-groundtruth/amazonReviewSnippets_GroundTruth.txt",
        false,
        2,
        1,
    ),
];

/// RFC 4180 records (quoted fields may hold commas, quotes and newlines).
fn csv_records(text: &str) -> Vec<Vec<String>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    field.push('"');
                    chars.next();
                } else {
                    quoted = false;
                }
            } else {
                field.push(c);
            }
            continue;
        }
        match c {
            '"' => quoted = true,
            ',' => row.push(std::mem::take(&mut field)),
            '\r' => {}
            '\n' => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            _ => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

fn fmt(s: &EvalScores) -> String {
    format!("n={:5} acc={:.3} F1={:.3}", s.n, s.accuracy, s.macro_f1)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mut data = "../shared/data".to_string();
    let mut dump: Option<(String, usize)> = None;
    let mut zero_only = false;
    let mut i = 1;
    while i < args.len() {
        match args[i].as_str() {
            "--data" => {
                data = args[i + 1].clone();
                i += 1;
            }
            "--zero" => zero_only = true,
            "--dump" => {
                dump = Some((args[i + 1].clone(), args[i + 2].parse().unwrap()));
                i += 2;
            }
            a => panic!("unknown argument {a}"),
        }
        i += 1;
    }
    let analyzer = Analyzer::default();
    // Build the lexicons and jieba before timing.
    for t in [
        "good", "goed het", "gut das", "bon le", "bueno el", "dobro je", "很好",
    ] {
        analyzer.analyze(t);
    }
    for (name, path, header, tcol, lcol) in SETS {
        if dump.as_ref().is_some_and(|(d, _)| d != name && d != "all") {
            continue;
        }
        let full = match path.strip_prefix("bench/") {
            Some(p) => format!("{}/../../bench/{p}", env!("CARGO_MANIFEST_DIR")),
            None => format!("{data}/{path}"),
        };
        let Ok(text) = std::fs::read_to_string(&full) else {
            println!("{name:10} missing {full}");
            continue;
        };
        let mut recs = if path.ends_with(".txt") {
            text.lines()
                .map(|l| l.split('\t').map(str::to_string).collect::<Vec<_>>())
                .filter(|r| r.len() > 2 && r[1].trim().parse::<f64>().is_ok_and(|v| v.abs() >= 0.5))
                .collect()
        } else {
            csv_records(&text)
        };
        if *header {
            recs.remove(0);
        }
        recs.retain(|r| r.len() > (*tcol).max(*lcol) && !r[*tcol].trim().is_empty());
        let raw: Vec<String> = recs.iter().map(|r| r[*lcol].clone()).collect();
        let labels = parse_labels(&raw);
        let binary = !labels.contains(&Some(Label::Neutral));
        let mut halves: [Vec<(Label, Label)>; 2] = [Vec::new(), Vec::new()];
        let mut wrong: Vec<(f64, &str, &str)> = Vec::new();
        let mut zeros = 0usize;
        let mut busy = std::time::Duration::ZERO;
        // Language identification of the whole text and of its first five words: (right,
        // unknown) counts; every set is of one language, the prefix of its name.
        let lang = name.split('-').next().expect("a name");
        let mut ident = [(0usize, 0usize); 2];
        for (k, (r, l)) in recs.iter().zip(&labels).enumerate() {
            let Some(truth) = *l else { continue };
            let short: Vec<&str> = r[*tcol].split_whitespace().take(5).collect();
            for (i, t) in [r[*tcol].as_str(), &short.join(" ")]
                .into_iter()
                .enumerate()
            {
                match cxray_text::lang::detect(t) {
                    d if d == lang => ident[i].0 += 1,
                    "unknown" => ident[i].1 += 1,
                    _ => {}
                }
            }
            let t0 = std::time::Instant::now();
            let a = analyzer.analyze(&r[*tcol]);
            busy += t0.elapsed();
            let pred = if binary {
                if a.sentiment >= 0.0 {
                    Label::Positive
                } else {
                    Label::Negative
                }
            } else {
                a.label
            };
            halves[k % 2].push((truth, pred));
            zeros += usize::from(a.sentiment == 0.0);
            if k % 2 == 0 && (pred != truth || zero_only) && (!zero_only || a.sentiment == 0.0) {
                wrong.push((a.sentiment, truth.as_str(), &r[*tcol]));
            }
        }
        let all: Vec<(Label, Label)> = halves.concat();
        let recall = |c: Label| {
            let n = all.iter().filter(|p| p.0 == c).count().max(1);
            all.iter().filter(|p| p.0 == c && p.1 == c).count() as f64 / n as f64
        };
        let rec = format!(
            "recall neg {:.2} pos {:.2}; zero-score {}; {:.0} texts/s",
            recall(Label::Negative),
            recall(Label::Positive),
            zeros,
            all.len() as f64 / busy.as_secs_f64()
        );
        println!(
            "{name:10} dev {}  held-out {}  full {}",
            fmt(&score_pairs(&halves[0])),
            fmt(&score_pairs(&halves[1])),
            fmt(&score_pairs(&all))
        );
        println!("{:10} {rec}", "");
        let share = |x: usize| 100.0 * x as f64 / all.len().max(1) as f64;
        println!(
            "{:10} language {lang}: {:.1}% right, {:.1}% unknown; first 5 words {:.1}% right, {:.1}% unknown",
            "",
            share(ident[0].0),
            share(ident[0].1),
            share(ident[1].0),
            share(ident[1].1)
        );
        if let Some((_, n)) = &dump {
            wrong.sort_by(|a, b| b.0.abs().total_cmp(&a.0.abs()));
            for (s, t, x) in wrong.iter().take(*n) {
                let short: String = x.chars().take(400).collect();
                println!("{s:+.2} {t}: {}", short.replace('\n', " "));
            }
        }
    }
}
