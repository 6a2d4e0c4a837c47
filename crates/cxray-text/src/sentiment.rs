//! Lexicon-and-rules sentiment in the style of VADER (Hutto & Gilbert 2014), reimplemented for
//! seven languages and for the way customers write.
//!
//! Each word found in the language's lexicon contributes its valence v ∈ [-1, 1], modified by:
//! - **negation** in the three words before it (`not good`, `niet goed`, `nije dobro`, `不好`):
//!   v·(-0.74);
//! - **intensifiers** just before it (`very`, `heel`, `sehr`, `très`, `muy`, `jako`, `很`):
//!   |v| + 0.075 per word, and dampeners (`slightly`, `een beetje`): |v| - 0.075;
//! - **ALL CAPS** in text that is not all caps: |v| + 0.18;
//! - **contrast** (`but`, `maar`, `aber`, `mais`, `pero`, `ali`, `但是`): words before it count
//!   half, words after it one and a half times.
//!
//! Emoji and emoticons carry their own valence. Exclamation marks push the sum s away from 0 by
//! 0.073 each (at most four), and s becomes the score s/√(s² + 0.9375) in (-1, 1) — VADER's
//! normalisation with α = 15 on its ±4 scale. Labels: positive ≥ 0.05, negative ≤ -0.05,
//! neutral otherwise.

use serde::Serialize;

use crate::lexicon::{Lexicon, lexicon};

/// Sentiment label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Label {
    Negative,
    Neutral,
    Positive,
}

impl Label {
    pub fn as_str(self) -> &'static str {
        match self {
            Label::Negative => "negative",
            Label::Neutral => "neutral",
            Label::Positive => "positive",
        }
    }

    /// From a score with the thresholds ±`t`.
    pub fn from_score(score: f64, t: f64) -> Label {
        if score >= t {
            Label::Positive
        } else if score <= -t {
            Label::Negative
        } else {
            Label::Neutral
        }
    }
}

/// Threshold between neutral and the two polar labels.
pub const LABEL_THRESHOLD: f64 = 0.05;

/// A token with what the rules need to know about it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub lower: String,
    pub all_caps: bool,
}

/// Splits text into lower-case word, emoji and emoticon tokens; URLs, @mentions, e-mail
/// addresses and HTML tags are dropped, `#hashtags` keep their word. Chinese is segmented with
/// jieba. Returns the tokens and the number of exclamation marks.
pub(crate) fn tokenize(text: &str, lang: &str) -> (Vec<Token>, usize) {
    let mut tokens = Vec::new();
    let mut bangs = 0;
    let mut in_tag = false;
    let mut cleaned = String::with_capacity(text.len().min(1 << 20));
    // Strip HTML tags.
    for c in text.chars() {
        match c {
            '<' if !in_tag => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                cleaned.push(' ');
                continue;
            }
            _ => {}
        }
        if !in_tag {
            cleaned.push(c);
        }
    }
    if in_tag {
        // An unclosed '<' was not a tag (e.g. "<3").
        cleaned = text.to_string();
    }
    for piece in cleaned.split_whitespace() {
        let low = piece.to_lowercase();
        if low.starts_with("http://")
            || low.starts_with("https://")
            || low.starts_with("www.")
            || low.starts_with('@')
            || (low.contains('@') && low.contains('.'))
        {
            continue;
        }
        bangs += piece.matches(['!', '！']).count();
        let trimmed = low.trim_matches(|c: char| {
            matches!(
                c,
                '.' | ',' | '!' | '?' | ';' | '"' | '“' | '”' | '！' | '？' | '。' | '，'
            )
        });
        if crate::lexicon::EMOJI.iter().any(|(e, _)| *e == trimmed) {
            tokens.push(Token {
                lower: trimmed.to_string(),
                all_caps: false,
            });
            continue;
        }
        let mut word = String::new();
        let mut raw_word = String::new();
        let flush = |word: &mut String, raw: &mut String, tokens: &mut Vec<Token>| {
            if !word.is_empty() {
                let letters: Vec<char> = raw.chars().filter(|c| c.is_alphabetic()).collect();
                let all_caps = letters.len() >= 2 && letters.iter().all(|c| c.is_uppercase());
                tokens.push(Token {
                    lower: std::mem::take(word),
                    all_caps,
                });
                raw.clear();
            }
        };
        for c in piece.chars() {
            if crate::lang::is_han(c) {
                flush(&mut word, &mut raw_word, &mut tokens);
                word.push(c);
                // Han runs are collected and segmented below.
                tokens.push(Token {
                    lower: std::mem::take(&mut word),
                    all_caps: false,
                });
            } else if c.is_alphanumeric() || c == '\'' || c == '’' || c == '-' {
                word.extend(c.to_lowercase());
                raw_word.push(c);
            } else if is_emoji(c) {
                flush(&mut word, &mut raw_word, &mut tokens);
                let mut s = String::new();
                s.push(c);
                tokens.push(Token {
                    lower: s,
                    all_caps: false,
                });
            } else {
                flush(&mut word, &mut raw_word, &mut tokens);
            }
        }
        flush(&mut word, &mut raw_word, &mut tokens);
    }
    let tokens = if lang == "zh"
        || tokens
            .iter()
            .any(|t| t.lower.chars().all(crate::lang::is_han))
    {
        segment_han(tokens)
    } else {
        tokens
    };
    (
        tokens
            .into_iter()
            .map(|mut t| {
                t.lower = t
                    .lower
                    .trim_matches(|c| c == '\'' || c == '’' || c == '-')
                    .replace('’', "'");
                t
            })
            .filter(|t| !t.lower.is_empty())
            .collect(),
        bangs,
    )
}

fn is_emoji(c: char) -> bool {
    matches!(c as u32, 0x1F300..=0x1FAFF | 0x2600..=0x27BF)
}

/// Joins runs of single Han characters and segments them into words with jieba.
fn segment_han(tokens: Vec<Token>) -> Vec<Token> {
    let mut out = Vec::with_capacity(tokens.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut Vec<Token>| {
        if !run.is_empty() {
            for w in crate::jieba().cut(run, false) {
                out.push(Token {
                    lower: w.to_string(),
                    all_caps: false,
                });
            }
            run.clear();
        }
    };
    for t in tokens {
        if t.lower.chars().count() == 1 && t.lower.chars().all(crate::lang::is_han) {
            run.push_str(&t.lower);
        } else {
            flush(&mut run, &mut out);
            out.push(t);
        }
    }
    flush(&mut run, &mut out);
    out
}

const NEGATION_SCALE: f32 = -0.74;
const BOOST: f32 = 0.075;
const CAPS_BOOST: f32 = 0.18;
const ALPHA: f64 = 0.9375;

/// Sentiment score in (-1, 1) of tokenised text in a language.
pub(crate) fn score(tokens: &[Token], bangs: usize, lang: &str) -> f64 {
    let lex: &Lexicon = lexicon(lang);
    let any_lower = tokens
        .iter()
        .any(|t| !t.all_caps && t.lower.chars().any(char::is_alphabetic));
    let is = |set: &[&str], w: &str| set.contains(&w);
    let mut contributions: Vec<(usize, f32)> = Vec::new();
    let mut contrast_at: Option<usize> = None;
    for (i, t) in tokens.iter().enumerate() {
        let w = t.lower.as_str();
        if is(&lex.rules.contrast, w) {
            contrast_at = Some(i);
            continue;
        }
        if is(&lex.rules.negations, w) || is(&lex.rules.boosters, w) && lex.valence(w).is_none() {
            continue;
        }
        // Chinese: 不好, 没问题 may stay one token; split off a leading negation.
        let (w, neg_prefix) = if lang == "zh" && lex.valence(w).is_none() {
            match ["不", "没", "没有", "别"]
                .iter()
                .find(|n| w.starts_with(**n) && w.len() > n.len())
            {
                Some(n) => (&w[n.len()..], true),
                None => (w, false),
            }
        } else {
            (w, false)
        };
        let Some(mut v) = lex.valence(w) else {
            continue;
        };
        if v == 0.0 {
            continue;
        }
        // Intensity modifiers directly before the word.
        let mut k = i;
        while k > 0 && i - k < 3 {
            k -= 1;
            let prev = tokens[k].lower.as_str();
            if is(&lex.rules.boosters, prev) {
                v += BOOST * v.signum();
            } else if is(&lex.rules.dampeners, prev) {
                v -= BOOST * v.signum();
            } else {
                break;
            }
        }
        if t.all_caps && any_lower {
            v += CAPS_BOOST * v.signum();
        }
        let negated = neg_prefix
            || (i.saturating_sub(3)..i).any(|j| {
                let p = tokens[j].lower.as_str();
                is(&lex.rules.negations, p) || p.ends_with("n't")
            });
        if negated {
            v *= NEGATION_SCALE;
        }
        contributions.push((i, v));
    }
    let mut sum: f64 = contributions
        .iter()
        .map(|&(i, v)| {
            let w = match contrast_at {
                Some(c) if i < c => 0.5,
                Some(c) if i > c => 1.5,
                _ => 1.0,
            };
            (v * w) as f64
        })
        .sum();
    if sum != 0.0 {
        sum += sum.signum() * 0.073 * bangs.min(4) as f64;
    }
    let s = sum / (sum * sum + ALPHA).sqrt();
    s.clamp(-1.0, 1.0)
}
