//! Sentiment lexicons (word → valence in [-1, 1]) and the rule words (negations, intensifiers,
//! contrast) per language. The large lexicons for en, nl, fr and de come from registry packages
//! (provenance and licences in DATA.md); es, hr and zh, the customer-experience additions and
//! neutral overrides, the multi-word expressions, the rule words and the emoji/emoticon table
//! are written for cxray.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use rust_stemmers::{Algorithm, Stemmer};

const EN: &str = include_str!("../data/en.tsv");
const NL: &str = include_str!("../data/nl.tsv");
const DE: &str = include_str!("../data/de.tsv");
const FR: &str = include_str!("../data/fr.tsv");
const ES: &str = include_str!("../data/es.tsv");
const HR: &str = include_str!("../data/hr.tsv");
const ZH: &str = include_str!("../data/zh.tsv");
const CX: &str = include_str!("../data/cx.tsv");
const PHRASES: &str = include_str!("../data/phrases.tsv");

fn raw(lang: &str) -> &'static str {
    match lang {
        "en" => EN,
        "nl" => NL,
        "de" => DE,
        "fr" => FR,
        "es" => ES,
        "hr" => HR,
        "zh" => ZH,
        _ => "",
    }
}

fn parse(text: &'static str) -> impl Iterator<Item = (&'static str, f32)> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let mut it = l.split('\t');
            let w = it.next()?;
            let v: f32 = it.next()?.trim().parse().ok()?;
            Some((w, v))
        })
}

/// The shipped lexicon entries of a language (without the customer-experience additions).
pub fn entries(lang: &str) -> impl Iterator<Item = (&'static str, f32)> {
    parse(raw(lang))
}

/// Customer-experience words per language: `lang<TAB>word<TAB>score` in data/cx.tsv.
fn cx_entries(lang: &str) -> impl Iterator<Item = (&'static str, f32)> + '_ {
    tagged(CX, lang)
}

/// Multi-word expressions per language: `lang<TAB>phrase<TAB>score` in data/phrases.tsv, words
/// separated by one space (Chinese phrases are written without spaces in zh.tsv instead).
fn phrase_entries(lang: &str) -> impl Iterator<Item = (&'static str, f32)> + '_ {
    tagged(PHRASES, lang)
}

fn tagged<'a>(text: &'static str, lang: &'a str) -> impl Iterator<Item = (&'static str, f32)> + 'a {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(move |l| {
            let mut it = l.split('\t');
            let lg = it.next()?;
            let w = it.next()?;
            let v: f32 = it.next()?.trim().parse().ok()?;
            (lg == lang || lg == "*").then_some((w, v))
        })
}

/// Words that reverse, strengthen or weaken the words after them, and words of contrast.
#[derive(Debug, Default)]
pub struct RuleWords {
    pub negations: Vec<&'static str>,
    pub boosters: Vec<&'static str>,
    pub dampeners: Vec<&'static str>,
    /// "but": what follows in the sentence outweighs what precedes it.
    pub contrast: Vec<&'static str>,
    /// "although": the clause it opens is conceded, so it counts less.
    pub concessive: Vec<&'static str>,
    /// Words between a negation and a sentiment word that cancel the negation ("not only",
    /// "ne … que").
    pub negation_blockers: Vec<&'static str>,
    /// Markers of the overall verdict ("overall", "all in all", "insgesamt", "总的来说"): the
    /// rest of their sentence sums up the review. Multi-word markers are space-separated words
    /// (Chinese: jieba words written together).
    pub verdict: Vec<&'static str>,
    /// Markers of a minor reservation after praise (zh 就是, 只是, 美中不足: "good, it's just
    /// that …"): the rest of their sentence counts less.
    pub minimizers: Vec<&'static str>,
    /// A word of scarcity and its article: without the article before it the word denies the
    /// word after it ("peu fiable" is unreliable, "wenig überzeugend" unconvincing); after it,
    /// it is a dampener ("un peu long").
    pub scant: Option<(&'static str, &'static str)>,
    /// Verb forms whose clause is not asserted (irrealis, as in SO-CAL's irrealis blocking,
    /// Taboada et al. 2011): the French conditionals of what reviewers had hoped for or what
    /// the thing could have been ("j'aurais aimé un livre captivant", "il serait parfait").
    pub irrealis: Vec<&'static str>,
}

/// Rule words of a language (written for cxray).
pub fn rule_words(lang: &str) -> RuleWords {
    let s = |x: &'static str| x.split(' ').filter(|w| !w.is_empty()).collect::<Vec<_>>();
    let p = |x: &'static str| x.split('|').filter(|w| !w.is_empty()).collect::<Vec<_>>();
    match lang {
        "en" => RuleWords {
            negations: s(
                "not no never n't nothing nobody none neither nor without cannot cant dont didnt doesnt isnt wasnt wont arent werent hardly",
            ),
            boosters: s(
                "very really extremely so too totally absolutely super incredibly completely highly especially truly utterly most",
            ),
            dampeners: s("slightly somewhat barely partly fairly quite"),
            contrast: s("but however yet"),
            concessive: s("although though"),
            negation_blockers: s("only just"),
            verdict: p(
                "overall|all in all|in summary|to sum up|in short|bottom line|in conclusion|all things considered|on the whole",
            ),
            minimizers: p("only downside|only complaint|only problem|only issue|only negative"),
            ..RuleWords::default()
        },
        "nl" => RuleWords {
            negations: s("niet geen nooit niets niks niemand zonder nergens nauwelijks amper"),
            boosters: s(
                "heel héél erg zeer echt super ontzettend enorm hartstikke zo te uiterst totaal volkomen absoluut bijzonder",
            ),
            dampeners: s("beetje weinig redelijk vrij nogal enigszins"),
            contrast: s("maar echter"),
            concessive: s("hoewel ofschoon alhoewel"),
            negation_blockers: s("alleen enkel"),
            verdict: p(
                "al met al|al bij al|over het algemeen|kortom|alles bij elkaar|samengevat|conclusie|concluderend|eindoordeel",
            ),
            minimizers: p("enige minpunt|enige minpuntje|enige nadeel|enig nadeel"),
            scant: Some(("weinig", "een")),
            ..RuleWords::default()
        },
        "de" => RuleWords {
            negations: s(
                "nicht kein keine keinen keinem keiner keinerlei keineswegs nie niemals nichts niemand ohne kaum weder nirgends",
            ),
            boosters: s(
                "sehr wirklich extrem total absolut super echt zu so äußerst besonders richtig",
            ),
            dampeners: s("etwas ziemlich eher bisschen wenig"),
            contrast: s("aber jedoch doch allerdings"),
            concessive: s("obwohl obgleich obschon zwar"),
            negation_blockers: s("nur sondern"),
            verdict: p(
                "insgesamt|alles in allem|fazit|unterm strich|zusammenfassend|im großen und ganzen|summa summarum|gesamteindruck",
            ),
            minimizers: p(
                "einziger kritikpunkt|einziges manko|einziger nachteil|einziges minus|kleines manko",
            ),
            scant: Some(("wenig", "ein")),
            ..RuleWords::default()
        },
        "fr" => RuleWords {
            negations: s("ne pas jamais rien personne sans aucun aucune ni guère nullement"),
            boosters: s(
                "très vraiment extrêmement trop super tellement absolument hyper si totalement bien",
            ),
            dampeners: s("assez peu plutôt"),
            contrast: s("mais cependant pourtant toutefois néanmoins or"),
            concessive: s("quoique malgré"),
            negation_blockers: s("que qu' seulement"),
            verdict: p(
                "dans le ensemble|globalement|en résumé|bref|en bref|en conclusion|au final|en somme|en définitive|pour conclure",
            ),
            minimizers: p("seul bémol|petit bémol|seul défaut|seul reproche|seul point négatif"),
            scant: Some(("peu", "un")),
            irrealis: s(
                "aurais aurait aurions auriez auraient serais serait serions seriez seraient pourrais pourrait pourrions pourriez pourraient devrais devrait devrions devriez devraient voudrais voudrait voudrions voudraient aimerais aimerait aimerions aimeraient faudrait",
            ),
        },
        "es" => RuleWords {
            negations: s("no nunca nada nadie sin ni tampoco jamás"),
            boosters: s(
                "muy realmente super extremadamente demasiado tan totalmente súper bastante",
            ),
            dampeners: s("poco algo"),
            contrast: s("pero"),
            concessive: s("aunque"),
            negation_blockers: s("solo sólo solamente"),
            verdict: p("en general|en resumen|en conclusión|en definitiva|en resumidas cuentas"),
            minimizers: p("único pero|único inconveniente|única pega|único problema"),
            scant: Some(("poco", "un")),
            ..RuleWords::default()
        },
        "hr" => RuleWords {
            negations: s("ne nije nisu nisam nismo nikad nikada ništa nitko bez nema nemam"),
            boosters: s("jako vrlo baš stvarno previše izuzetno super posebno"),
            dampeners: s("malo donekle prilično"),
            contrast: s("ali međutim"),
            concessive: s("iako premda"),
            negation_blockers: s("samo"),
            verdict: p("sve u svemu|ukratko|zaključno|sveukupno|općenito"),
            minimizers: p("jedina zamjerka|jedini nedostatak|jedina mana"),
            ..RuleWords::default()
        },
        "zh" => RuleWords {
            negations: s(
                "不 没 没有 别 无 未 不是 不太 并不 不怎么 没什么 没啥 不够 没法 无法 从不 从没 从来不 毫不 绝不 木有 不算 谈不上 算不上 不再",
            ),
            // 很 is the default degree word of Chinese adjectives, not an intensifier; 好 before
            // an adjective is one (好慢), handled in sentiment.rs.
            boosters: s(
                "非常 太 特别 十分 超 真 真的 极其 超级 最 相当 巨 贼 实在 极 太过 越来越 更 更加",
            ),
            dampeners: s("有点 有点儿 稍微 稍 略 略微 比较 有些 偏 还算"),
            contrast: s("但是 但 可是 不过 然而"),
            concessive: s("虽然 虽说 尽管"),
            negation_blockers: s(""),
            verdict: p(
                "总体|整体|总的来说|总得来说|总的说来|总的来讲|总体来说|总而言之|综上所述|总体而言|总的来看|综合来看|综合考虑|总之|总评",
            ),
            minimizers: p("就是|只是|只不过|美中不足|唯一不足|不足之处|不足的是|唯一的缺点|缺点是"),
            ..RuleWords::default()
        },
        _ => RuleWords::default(),
    }
}

/// Emoji and emoticons with their valence (written for cxray).
pub const EMOJI: &[(&str, f32)] = &[
    ("😀", 0.6),
    ("😃", 0.6),
    ("😄", 0.6),
    ("😁", 0.6),
    ("😊", 0.6),
    ("🙂", 0.4),
    ("😍", 0.8),
    ("🥰", 0.8),
    ("😘", 0.6),
    ("👍", 0.5),
    ("👌", 0.5),
    ("👏", 0.5),
    ("❤", 0.7),
    ("❤️", 0.7),
    ("💯", 0.6),
    ("🎉", 0.6),
    ("✨", 0.4),
    ("🙏", 0.4),
    ("😎", 0.5),
    ("🤩", 0.8),
    ("💪", 0.4),
    ("⭐", 0.4),
    ("🌟", 0.5),
    ("😂", 0.3),
    ("🤣", 0.3),
    ("😞", -0.6),
    ("😠", -0.7),
    ("😡", -0.8),
    ("🤬", -0.9),
    ("😢", -0.6),
    ("😭", -0.6),
    ("👎", -0.6),
    ("💩", -0.7),
    ("😤", -0.6),
    ("🙄", -0.5),
    ("😒", -0.5),
    ("😕", -0.4),
    ("😩", -0.6),
    ("😫", -0.6),
    ("😔", -0.5),
    ("🤮", -0.8),
    ("😖", -0.5),
    ("💔", -0.6),
    ("😑", -0.3),
    ("😐", -0.1),
    ("🤦", -0.5),
    ("😆", 0.5),
    ("😅", 0.2),
    ("😉", 0.4),
    ("🥳", 0.7),
    ("🔥", 0.4),
    ("😌", 0.3),
    ("💕", 0.7),
    ("💖", 0.7),
    ("♥", 0.7),
    ("🙌", 0.6),
    ("🤗", 0.6),
    ("😋", 0.6),
    ("✅", 0.3),
    ("😓", -0.5),
    ("🙁", -0.4),
    ("☹", -0.5),
    ("☹️", -0.5),
    ("😟", -0.4),
    ("😥", -0.4),
    ("😰", -0.5),
    ("😱", -0.4),
    ("🤢", -0.7),
    ("❌", -0.4),
    ("😣", -0.5),
    ("😪", -0.4),
    ("🥺", -0.3),
    ("😨", -0.5),
    ("😬", -0.3),
    (":)", 0.5),
    (":-)", 0.5),
    (":d", 0.6),
    (":-d", 0.6),
    (";)", 0.4),
    ("(:", 0.5),
    ("<3", 0.6),
    (":p", 0.3),
    ("xd", 0.4),
    (":(", -0.5),
    (":-(", -0.5),
    (":'(", -0.6),
    (":/", -0.3),
    (":-/", -0.3),
    ("):", -0.5),
    (":|", -0.2),
    (">:(", -0.7),
];

/// A language's lookup tables.
pub struct Lexicon {
    pub words: HashMap<String, f32>,
    /// Multi-word expressions, words joined by one space.
    pub phrases: HashMap<String, f32>,
    /// Beginnings of multi-word expressions (space-joined words; for Chinese, the leading
    /// characters of lexicon words, so that words jieba splits are joined again).
    pub prefixes: HashSet<String>,
    /// Stem → mean valence of the lexicon words with that stem (inflection fallback).
    pub stems: HashMap<String, f32>,
    /// Words written without their accents ("decu", "losa") → valence of the accented word.
    pub folded: HashMap<String, f32>,
    pub stemmer: Option<Stemmer>,
    pub rules: RuleWords,
    pub lang: &'static str,
}

fn algorithm(lang: &str) -> Option<Algorithm> {
    Some(match lang {
        "en" => Algorithm::English,
        "nl" => Algorithm::Dutch,
        "de" => Algorithm::German,
        "fr" => Algorithm::French,
        "es" => Algorithm::Spanish,
        _ => return None,
    })
}

/// How much of a lexicon word its stem must keep for the word to stand for every word with
/// that stem. Spanish Snowball strips long verb endings from adjectives and nouns (`pésimos` ->
/// `pes`, `porquería` -> `porqu`, `volveré` -> `volv`), so that `peso`, `porque` and `volver`
/// would take their valence; the Spanish lexicon lists its inflected forms instead.
fn min_stem_share(lang: &str) -> f32 {
    match lang {
        "es" => 0.7,
        _ => 0.0,
    }
}

impl Lexicon {
    fn build(lang: &'static str) -> Lexicon {
        let mut words: HashMap<String, f32> =
            entries(lang).map(|(w, v)| (w.to_lowercase(), v)).collect();
        for (w, v) in cx_entries(lang) {
            words.insert(w.to_lowercase(), v);
        }
        for (e, v) in EMOJI {
            words.insert((*e).to_string(), *v);
        }
        let stemmer = algorithm(lang).map(Stemmer::create);
        let mut acc: HashMap<String, (f32, u32)> = HashMap::new();
        if let Some(st) = &stemmer {
            for (w, v) in &words {
                let stem = st.stem(w);
                let len = w.chars().count();
                if len >= 4
                    && w.chars().all(char::is_alphabetic)
                    && stem.chars().count() as f32 >= min_stem_share(lang) * len as f32
                {
                    let e = acc.entry(stem.into_owned()).or_default();
                    e.0 += v;
                    e.1 += 1;
                }
            }
        }
        let stems = acc
            .into_iter()
            .map(|(k, (s, n))| (k, s / n as f32))
            .collect();
        let mut folded = HashMap::new();
        if lang != "zh" {
            for (w, v) in &words {
                let f = fold(w);
                if f != *w && !words.contains_key(&f) {
                    folded.entry(f).or_insert(*v);
                }
            }
        }
        let phrases: HashMap<String, f32> = phrase_entries(lang)
            .map(|(w, v)| (w.to_lowercase(), v))
            .collect();
        let mut prefixes = HashSet::new();
        for p in phrases.keys() {
            let parts: Vec<&str> = p.split(' ').collect();
            for k in 1..parts.len() {
                prefixes.insert(parts[..k].join(" "));
            }
        }
        if lang == "zh" {
            for w in words.keys() {
                let ends: Vec<usize> = w.char_indices().map(|(i, _)| i).skip(1).collect();
                for e in ends {
                    prefixes.insert(w[..e].to_string());
                }
            }
        }
        Lexicon {
            words,
            phrases,
            prefixes,
            stems,
            folded,
            stemmer,
            rules: rule_words(lang),
            lang,
        }
    }

    /// Valence of a lower-case token: exact, then without accents, then by stem (not for the
    /// language's function words: `porque` is not an inflection of anything).
    pub fn valence(&self, token: &str) -> Option<f32> {
        if let Some(v) = self.words.get(token) {
            return Some(*v);
        }
        if !self.folded.is_empty()
            && token.chars().count() >= 4
            && !crate::lang::is_function_word(token)
        {
            let hit = if token.is_ascii() {
                self.folded.get(token)
            } else {
                self.folded.get(&fold(token))
            };
            if let Some(v) = hit {
                return Some(*v);
            }
        }
        if let Some(v) = self
            .stemmer
            .as_ref()
            .filter(|_| {
                token.chars().count() >= 4 && !crate::lang::is_function_word_of(token, self.lang)
            })
            .and_then(|st| self.stems.get(st.stem(token).as_ref()))
        {
            return Some(*v);
        }
        // Letters drawn out for emphasis ("goooood", "odiooo", "nooooo"): runs of three or
        // more read as two, then as one.
        if has_run(token) {
            return [2, 1]
                .into_iter()
                .find_map(|keep| self.valence(&squeeze(token, keep)));
        }
        None
    }
}

/// Whether a word has a letter three or more times in a row.
fn has_run(w: &str) -> bool {
    let mut prev = None;
    let mut run = 0;
    for c in w.chars() {
        run = if Some(c) == prev { run + 1 } else { 1 };
        if run >= 3 && c.is_alphabetic() {
            return true;
        }
        prev = Some(c);
    }
    false
}

/// Shortens every run of a repeated letter to at most `keep` letters.
fn squeeze(w: &str, keep: usize) -> String {
    let mut out = String::with_capacity(w.len());
    let mut prev = None;
    let mut run = 0;
    for c in w.chars() {
        run = if Some(c) == prev { run + 1 } else { 1 };
        if run <= keep || !c.is_alphabetic() {
            out.push(c);
        }
        prev = Some(c);
    }
    out
}

/// A lower-case word without its diacritics (é → e, č → c, œ → oe).
pub fn fold(w: &str) -> String {
    let mut out = String::with_capacity(w.len());
    for c in w.chars() {
        match c {
            'à' | 'á' | 'â' | 'ä' | 'ã' | 'å' => out.push('a'),
            'è' | 'é' | 'ê' | 'ë' => out.push('e'),
            'ì' | 'í' | 'î' | 'ï' => out.push('i'),
            'ò' | 'ó' | 'ô' | 'ö' | 'õ' => out.push('o'),
            'ù' | 'ú' | 'û' | 'ü' => out.push('u'),
            'ç' | 'č' | 'ć' => out.push('c'),
            'ñ' => out.push('n'),
            'š' => out.push('s'),
            'ž' => out.push('z'),
            'đ' => out.push('d'),
            'œ' => out.push_str("oe"),
            'æ' => out.push_str("ae"),
            _ => out.push(c),
        }
    }
    out
}

/// The lexicon of a language ("unknown" uses English plus emoji).
pub fn lexicon(lang: &str) -> &'static Lexicon {
    static L: OnceLock<HashMap<&'static str, Lexicon>> = OnceLock::new();
    let all = L.get_or_init(|| {
        crate::lang::LANGUAGES
            .iter()
            .map(|l| (*l, Lexicon::build(l)))
            .collect()
    });
    all.get(lang).unwrap_or_else(|| &all["en"])
}
