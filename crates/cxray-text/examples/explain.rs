//! Prints, for each line of standard input, the language it is reported and read in, its
//! score, and its tokens with their lexicon valences: a tool for reading misclassified texts.
//!
//! ```text
//! echo "que triste me siento" | cargo run --release -p cxray-text --example explain
//! ```

use std::io::BufRead;

fn main() {
    let analyzer = cxray_text::Analyzer::default();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let a = analyzer.analyze(&line);
        let (reading, words) = analyzer.explain(&line);
        let words: Vec<String> = words
            .into_iter()
            .map(|(w, v)| match v {
                Some(v) => format!("{w}={v:+.2}"),
                None => w,
            })
            .collect();
        println!(
            "{:+.2} {} (read {reading}): {}",
            a.sentiment,
            a.language,
            words.join(" ")
        );
    }
}
