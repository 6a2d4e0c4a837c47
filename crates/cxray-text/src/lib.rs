//! # cxray-text
//!
//! Offline, multilingual text analytics for customer comments, tickets and social mentions:
//! language (en, nl, de, fr, es, hr, zh, or "unknown" when too short to tell), sentiment (a score
//! in [-1, 1] and a label) and themes (a built-in customer-experience taxonomy, extensible, plus
//! themes discovered in the corpus). No model is downloaded: lexicons are compiled in, and
//! Chinese is segmented with jieba's embedded dictionary.
//!
//! ```
//! let a = cxray_text::Analyzer::default();
//! let r = a.analyze("The delivery was late again and nobody called me back.");
//! assert_eq!(r.language, "en");
//! assert!(r.sentiment < 0.0);
//! assert_eq!(r.themes, vec!["delivery".to_string()]);
//! let r = a.analyze("Heel vriendelijk personeel, echt een aanrader!");
//! assert_eq!((r.language, r.label.as_str()), ("nl", "positive"));
//! ```

pub mod eval;
pub mod lang;
pub mod lexicon;
pub mod sentiment;
pub mod themes;

use std::sync::OnceLock;

use serde::Serialize;

pub use sentiment::{LABEL_THRESHOLD, Label};
pub use themes::{DiscoveredTheme, ThemeDef, ThemeMatcher};

pub(crate) fn jieba() -> &'static jieba_rs::Jieba {
    static J: OnceLock<jieba_rs::Jieba> = OnceLock::new();
    J.get_or_init(jieba_rs::Jieba::new)
}

/// What the analyser says about one text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TextAnalysis {
    /// ISO 639-1 code or "unknown".
    pub language: &'static str,
    /// Sentiment score in [-1, 1].
    pub sentiment: f64,
    pub label: Label,
    /// Names of the taxonomy themes mentioned.
    pub themes: Vec<String>,
}

/// Longest text analysed; longer texts are cut at a character boundary (a 1 MB comment is
/// still judged on its first 64 KiB).
pub const MAX_CHARS: usize = 64 * 1024;

/// The analyser: language detection, sentiment and theme matching.
pub struct Analyzer {
    matcher: ThemeMatcher,
}

impl Default for Analyzer {
    fn default() -> Self {
        Analyzer::new(&themes::builtin())
    }
}

impl Analyzer {
    /// An analyser with the given theme taxonomy.
    pub fn new(themes: &[ThemeDef]) -> Self {
        Analyzer {
            matcher: ThemeMatcher::new(themes),
        }
    }

    /// The built-in taxonomy with a project's themes added (same name: keywords added).
    pub fn with_extra_themes(extra: &[ThemeDef]) -> Self {
        let mut defs = themes::builtin();
        for e in extra {
            match defs.iter_mut().find(|d| d.name == e.name) {
                Some(d) => d.keywords.extend(e.keywords.iter().cloned()),
                None => defs.push(e.clone()),
            }
        }
        Analyzer::new(&defs)
    }

    /// Theme names, in taxonomy order.
    pub fn theme_names(&self) -> &[String] {
        &self.matcher.names
    }

    /// Analyses one text.
    pub fn analyze(&self, text: &str) -> TextAnalysis {
        let text = truncate(text);
        let (language, reading) = lang::identify(text);
        let (tokens, bangs) = sentiment::tokenize(text, reading);
        let score = sentiment::score(&tokens, bangs, reading);
        let themes = self
            .matcher
            .themes(&tokens, reading)
            .into_iter()
            .map(|i| self.matcher.names[i].clone())
            .collect();
        TextAnalysis {
            language,
            sentiment: score,
            label: Label::from_score(score, LABEL_THRESHOLD),
            themes,
        }
    }

    /// The reading language of a text and its tokens with their single-word lexicon valences,
    /// to see why a text scored as it did. The scorer's other steps are not shown: multi-word
    /// expressions (`piège à touristes`, matched before their words), negation, intensifiers,
    /// contrast and the other rules, and the re-splitting of Chinese words.
    pub fn explain(&self, text: &str) -> (&'static str, Vec<(String, Option<f32>)>) {
        let text = truncate(text);
        let reading = lang::identify(text).1;
        let lex = lexicon::lexicon(reading);
        let tokens = sentiment::tokenize(text, reading).0;
        let words = tokens
            .into_iter()
            .map(|t| {
                let v = lex.valence(&t.lower);
                (t.lower, v)
            })
            .collect();
        (reading, words)
    }

    /// Themes found automatically in a corpus (what the taxonomy misses).
    pub fn discover_themes(
        &self,
        texts: &[&str],
        min_docs: u64,
        max_themes: usize,
    ) -> Vec<DiscoveredTheme> {
        let docs: Vec<(Vec<sentiment::Token>, &str)> = texts
            .iter()
            .map(|t| {
                let t = truncate(t);
                let l = lang::identify(t).1;
                (sentiment::tokenize(t, l).0, l)
            })
            .collect();
        themes::discover(&docs, &self.matcher, min_docs, max_themes)
    }
}

fn truncate(text: &str) -> &str {
    if text.len() <= MAX_CHARS {
        return text;
    }
    let mut end = MAX_CHARS;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}
