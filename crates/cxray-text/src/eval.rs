//! Accuracy and macro-F1 of the sentiment labels against human labels, per language.
//!
//! Labels are read as negative/neutral/positive (also -1/0/1, neg/neu/pos), as 0/1 for binary
//! data (0 negative), or as a graded score whose sign counts (e.g. -4..4). With only two classes
//! in the data the prediction is binary too: positive when the score is ≥ 0.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::{Analyzer, Label};

/// Parses a column of human labels; `None` for labels it cannot read (counted as skipped).
/// A column holding only `0` and `1` is binary (0 negative); elsewhere a number's sign counts.
pub fn parse_labels(raw: &[String]) -> Vec<Option<Label>> {
    let binary = raw.iter().all(|r| matches!(r.trim(), "0" | "1"));
    raw.iter()
        .map(|r| match (binary, r.trim()) {
            (true, "0") => Some(Label::Negative),
            (true, _) => Some(Label::Positive),
            (false, t) => parse_label(t),
        })
        .collect()
}

/// Parses one human label: a word or a number whose sign counts (0 is neutral).
pub fn parse_label(s: &str) -> Option<Label> {
    let t = s.trim().to_lowercase();
    match t.as_str() {
        "negative" | "neg" => return Some(Label::Negative),
        "neutral" | "neu" => return Some(Label::Neutral),
        "positive" | "pos" => return Some(Label::Positive),
        _ => {}
    }
    let v: f64 = t.parse().ok()?;
    Some(if v > 0.0 {
        Label::Positive
    } else if v < 0.0 {
        Label::Negative
    } else {
        Label::Neutral
    })
}

/// Scores of one group of texts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalScores {
    pub n: u64,
    pub accuracy: f64,
    pub macro_f1: f64,
    /// Classes present in the human labels (2 or 3).
    pub classes: usize,
    /// Per class: (precision, recall, f1, support).
    pub per_class: BTreeMap<String, (f64, f64, f64, u64)>,
    /// Texts labelled positive or negative by people.
    pub polar_n: u64,
    /// Accuracy on those alone, the prediction by the sentiment's sign (≥ 0 positive): how
    /// well the polarity is read, apart from where the neutral band lies. None without them.
    pub polar_accuracy: Option<f64>,
}

/// Macro-F1 and accuracy of (truth, prediction) pairs over the classes present in the truth.
pub fn score_pairs(pairs: &[(Label, Label)]) -> EvalScores {
    let mut classes: Vec<Label> = pairs.iter().map(|p| p.0).collect();
    classes.sort();
    classes.dedup();
    let mut per_class = BTreeMap::new();
    let mut f1_sum = 0.0;
    for &c in &classes {
        let tp = pairs.iter().filter(|(t, p)| *t == c && *p == c).count() as f64;
        let fp = pairs.iter().filter(|(t, p)| *t != c && *p == c).count() as f64;
        let fneg = pairs.iter().filter(|(t, p)| *t == c && *p != c).count() as f64;
        let precision = if tp + fp > 0.0 { tp / (tp + fp) } else { 0.0 };
        let recall = if tp + fneg > 0.0 {
            tp / (tp + fneg)
        } else {
            0.0
        };
        let f1 = if precision + recall > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        };
        f1_sum += f1;
        per_class.insert(
            c.as_str().to_string(),
            (precision, recall, f1, (tp + fneg) as u64),
        );
    }
    let n = pairs.len();
    EvalScores {
        n: n as u64,
        accuracy: if n > 0 {
            pairs.iter().filter(|(t, p)| t == p).count() as f64 / n as f64
        } else {
            0.0
        },
        macro_f1: if classes.is_empty() {
            0.0
        } else {
            f1_sum / classes.len() as f64
        },
        classes: classes.len(),
        per_class,
        polar_n: 0,
        polar_accuracy: None,
    }
}

/// Whether a text falls in the development half of a labelled set: a fixed hash of its bytes
/// (FNV-1a), so the halves are the same on every run and machine and for every tool. Rules are
/// chosen on the development half and reported on both.
pub fn in_dev_half(text: &str) -> bool {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h.rotate_right(17) & 1 == 0
}

/// Evaluates the analyser on labelled texts; groups by the given language or, when `None`, the
/// detected one. Returns scores per language and over all.
pub fn evaluate(
    analyzer: &Analyzer,
    items: &[(String, Label, Option<String>)],
) -> BTreeMap<String, EvalScores> {
    let binary = {
        let mut c: Vec<Label> = items.iter().map(|i| i.1).collect();
        c.sort();
        c.dedup();
        !c.contains(&Label::Neutral)
    };
    let mut groups: BTreeMap<String, Vec<(Label, Label)>> = BTreeMap::new();
    // Per group: (polar texts, read with the right sign).
    let mut polar: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for (text, truth, lang) in items {
        let a = analyzer.analyze(text);
        let l = lang.clone().unwrap_or_else(|| a.language.to_string());
        if *truth != Label::Neutral {
            let right = (a.sentiment >= 0.0) == (*truth == Label::Positive);
            for g in [l.clone(), "all".to_string()] {
                let e = polar.entry(g).or_default();
                e.0 += 1;
                e.1 += u64::from(right);
            }
        }
        let pred = if binary {
            if a.sentiment >= 0.0 {
                Label::Positive
            } else {
                Label::Negative
            }
        } else {
            a.label
        };
        groups.entry(l).or_default().push((*truth, pred));
        groups.entry("all".into()).or_default().push((*truth, pred));
    }
    groups
        .into_iter()
        .map(|(l, p)| {
            let mut s = score_pairs(&p);
            if let Some(&(n, right)) = polar.get(&l) {
                s.polar_n = n;
                s.polar_accuracy = (n > 0).then(|| right as f64 / n as f64);
            }
            (l, s)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macro_f1_by_hand() {
        use Label::*;
        // 3 classes: pos recall 2/3, neg 1/1, neu 0/1.
        let pairs = [
            (Positive, Positive),
            (Positive, Positive),
            (Positive, Neutral),
            (Negative, Negative),
            (Neutral, Positive),
        ];
        let s = score_pairs(&pairs);
        assert!((s.accuracy - 0.6).abs() < 1e-12);
        // pos: P = 2/3, R = 2/3, F1 = 2/3; neg: 1, 1, 1; neu: P 0, R 0, F1 0 -> macro 5/9.
        assert!((s.macro_f1 - 5.0 / 9.0).abs() < 1e-12, "{}", s.macro_f1);
        assert_eq!(s.classes, 3);
    }

    #[test]
    fn polar_accuracy_reads_the_sign_of_the_people_labelled_polar() {
        let analyzer = Analyzer::default();
        let items: Vec<(String, Label, Option<String>)> = [
            ("The staff were wonderful and very helpful", Label::Positive),
            ("Terrible service, the worst delivery ever", Label::Negative),
            ("The parcel arrived on Tuesday", Label::Neutral),
            ("Absolutely awful, I am very disappointed", Label::Positive),
        ]
        .into_iter()
        .map(|(t, l)| (t.to_string(), l, Some("en".to_string())))
        .collect();
        let s = &evaluate(&analyzer, &items)["all"];
        // Three polar texts; the last is labelled against its words: 2 of 3 read right.
        assert_eq!(s.polar_n, 3);
        assert!(
            (s.polar_accuracy.unwrap() - 2.0 / 3.0).abs() < 1e-12,
            "{s:?}"
        );
        assert_eq!(s.n, 4);
    }

    #[test]
    fn the_development_half_is_fixed_and_about_half() {
        let texts: Vec<String> = (0..10_000).map(|i| format!("review number {i}")).collect();
        let dev = texts.iter().filter(|t| in_dev_half(t)).count();
        assert!((4_800..=5_200).contains(&dev), "{dev}");
        // Fixed halves, computed apart (FNV-1a 64 in Python, rotated right by 17, low bit).
        for (text, dev) in [
            ("a", true),
            ("d", true),
            ("Zug fällt aus", false),
            ("Odličan film", true),
            ("late parcel", false),
        ] {
            assert_eq!(in_dev_half(text), dev, "{text}");
        }
    }

    #[test]
    fn labels() {
        assert_eq!(parse_label("positive"), Some(Label::Positive));
        assert_eq!(parse_label("-1"), Some(Label::Negative));
        assert_eq!(parse_label("0"), Some(Label::Neutral));
        let b = parse_labels(&["0".into(), "1".into()]);
        assert_eq!(b, vec![Some(Label::Negative), Some(Label::Positive)]);
        assert_eq!(parse_label("2.7"), Some(Label::Positive));
        assert_eq!(parse_label("-0.3"), Some(Label::Negative));
        assert_eq!(parse_label("neutral"), Some(Label::Neutral));
        assert_eq!(parse_label("n/a"), None);
    }
}
