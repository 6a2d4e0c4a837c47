//! Language identification for short customer comments in en, nl, de, fr, es, hr and zh.
//!
//! Han characters decide Chinese. For the Latin-script languages each word votes for the
//! languages whose function-word list (articles, pronouns, auxiliaries, negations — the words
//! every sentence has) contains it, a word of a language's sentiment lexicon adds half a vote,
//! and letters that only some of the languages use (ß, ñ, č, …) add votes. The language with
//! most votes wins when it has at least one vote and leads clearly; otherwise the answer is
//! "unknown" rather than a guess, and the text is read in the language with most votes (the
//! first in [`LANGUAGES`] order of those tied), English when none has a vote ([`identify`]).

use std::collections::HashMap;
use std::sync::OnceLock;

/// Languages cxray analyses.
pub const LANGUAGES: [&str; 7] = ["en", "nl", "de", "fr", "es", "hr", "zh"];

const LATIN: [&str; 6] = ["en", "nl", "de", "fr", "es", "hr"];

/// Function words per language, written for cxray.
const FUNCTION_WORDS: [(&str, &str); 6] = [
    (
        "en",
        "the a an and or but is are was were be been am i you he she it we they my your our their this that these those \
         of to in on at for with from by not no never very so too it's i'm don't didn't can't won't isn't wasn't have has had \
         do does did will would can could should me him her them us what which who when where why how there here all just \
         still again only also more most about after before because if than then",
    ),
    (
        "nl",
        "de het een en of maar is zijn was waren ben bent ik je jij u hij zij ze wij we jullie mijn jouw uw ons onze hun dit dat \
         deze die van naar in op aan voor met bij door niet geen nooit heel erg zeer al nog ook meer wel er hier daar wat wie \
         waar waarom hoe want omdat als dan toen had heeft hebben wordt werd worden kan kon zou moet mij hem haar hen",
    ),
    (
        "de",
        "der die das den dem des ein eine einen einem einer und oder aber ist sind war waren bin bist ich du er sie es wir ihr \
         mein meine dein unser ihre dieser diese dieses von zu in im auf an am für mit bei durch nicht kein keine nie sehr \
         so auch noch schon mehr nur wieder hier dort was wer wo warum wie weil wenn dann als hat haben hatte wird wurde \
         werden kann konnte sollte muss mir mich ihm ihn uns",
    ),
    (
        "fr",
        "le la les un une des et ou mais est sont était étaient suis es je tu il elle on nous vous ils elles mon ma mes ton ta \
         notre votre leur ce cet cette ces de du au aux en dans sur pour avec par ne pas plus jamais très trop aussi encore \
         déjà bien qui que quoi où pourquoi comment parce quand si alors avait ai as a ont avons été sera peut pu fait me te \
         se lui leur y c'est j'ai n'est qu'il",
    ),
    (
        "es",
        "el la los las un una unos unas y o pero es son era eran fue soy eres yo tú él ella nosotros vosotros ellos ellas mi \
         mis tu tus su sus nuestro este esta estos estas ese esa de del al en con por para sin no nunca muy tan también todavía \
         ya más menos que qué quien dónde porque cuando si entonces ha han he hemos había está están estaba me te se le les lo \
         nos hay",
    ),
    (
        "hr",
        "i a ali ili je su sam si smo ste bio bila bilo bili ja ti on ona ono mi vi oni one moj moja moje tvoj naš vaš njihov \
         ovaj ova ovo taj ta to od do u na za s sa iz kod po ne nije nisu nikad nikada nema vrlo jako baš previše također još \
         već više samo što tko gdje zašto kako jer kad kada ako onda ima imam imao mogu može trebao bi me te ga mu nam vam",
    ),
];

/// Word -> (function-word languages, sentiment-word languages), as bit sets over `LATIN`.
fn table() -> &'static HashMap<String, (u8, u8)> {
    static T: OnceLock<HashMap<String, (u8, u8)>> = OnceLock::new();
    T.get_or_init(|| {
        let mut m: HashMap<String, (u8, u8)> = HashMap::new();
        for (i, (_, words)) in FUNCTION_WORDS.iter().enumerate() {
            for w in words.split_whitespace() {
                m.entry(w.to_string()).or_default().0 |= 1 << i;
            }
        }
        for (i, lang) in LATIN.iter().enumerate() {
            for (w, _) in crate::lexicon::entries(lang) {
                m.entry(w.to_string()).or_default().1 |= 1 << i;
            }
        }
        m
    })
}

fn letter_votes(c: char) -> u8 {
    // Bit i = LATIN[i]: en nl de fr es hr.
    match c {
        'ß' | 'ä' | 'ö' | 'ü' | 'Ä' | 'Ö' | 'Ü' => 1 << 2,
        'ñ' | 'Ñ' | '¿' | '¡' | 'á' | 'í' | 'ó' | 'ú' => 1 << 4,
        'č' | 'ć' | 'š' | 'ž' | 'đ' | 'Č' | 'Ć' | 'Š' | 'Ž' | 'Đ' => 1 << 5,
        'è' | 'ê' | 'à' | 'â' | 'ç' | 'î' | 'ô' | 'û' | 'ù' | 'ë' | 'ï' | 'œ' | 'É' | 'È' => {
            1 << 3
        }
        'é' => (1 << 3) | (1 << 4),
        _ => 0,
    }
}

/// Chinese function words (particles, pronouns), written for cxray.
const ZH_FUNCTION: &str = "的 了 是 我 你 他 她 它 们 也 就 都 在 和 有 这 那 吗 呢 吧 啊 又 还 给 把 被 让 对 从 到 说 要 会 能 可以 一个 我们 你们 他们 自己 什么 怎么 这个 那个 因为 所以 但是 如果 就是 还是 已经 没有 不是";

/// Whether a lower-case word is a function word of `lang` (of any language for one without a
/// list of its own).
pub fn is_function_word_of(w: &str, lang: &str) -> bool {
    match LATIN.iter().position(|l| *l == lang) {
        Some(i) => table().get(w).is_some_and(|(f, _)| f & (1 << i) != 0),
        None => is_function_word(w),
    }
}

/// Whether a lower-case word is a function word of any supported language.
pub fn is_function_word(w: &str) -> bool {
    static ZH: OnceLock<std::collections::HashSet<&'static str>> = OnceLock::new();
    if ZH
        .get_or_init(|| ZH_FUNCTION.split(' ').collect())
        .contains(w)
    {
        return true;
    }
    table().get(w).is_some_and(|(f, _)| *f != 0)
}

/// Whether a character is a CJK ideograph.
pub fn is_han(c: char) -> bool {
    matches!(c as u32, 0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0xF900..=0xFAFF | 0x20000..=0x2A6DF)
}

/// The language of `text` ("en", "nl", …), or "unknown" when it is too short or ambiguous.
pub fn detect(text: &str) -> &'static str {
    identify(text).0
}

/// The language of `text` as [`detect`] reports it, and the language to read it in: for a text
/// too short to report, the one with most votes (`rico` is read as Spanish, `lekker` as Dutch,
/// without the evidence to report either); of languages tied for the lead, the first in
/// [`LANGUAGES`] order ("que triste me siento" ties French and Spanish and is read in French,
/// whose lexicon has `triste` too); English when no language has a vote.
pub fn identify(text: &str) -> (&'static str, &'static str) {
    let mut han = 0usize;
    let mut letters = 0usize;
    let mut votes = [0f32; 6];
    for c in text.chars() {
        if is_han(c) {
            han += 1;
        } else if c.is_alphabetic() {
            letters += 1;
            let v = letter_votes(c);
            for (i, vote) in votes.iter_mut().enumerate() {
                if v & (1 << i) != 0 {
                    *vote += 0.5;
                }
            }
        }
    }
    if han >= 2 && han * 2 >= letters.min(han * 10) {
        return ("zh", "zh");
    }
    let t = table();
    let mut lower = String::new();
    for word in text.split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '’')) {
        if word.is_empty() || word.len() > 20 {
            continue;
        }
        lower.clear();
        for c in word.chars() {
            lower.extend(c.to_lowercase());
        }
        let key = lower.replace('’', "'");
        if let Some(&(function, sentiment)) = t.get(key.as_str()) {
            // A function word is strong evidence; a sentiment word weaker (loanwords).
            for (bits, weight) in [(function, 1.0f32), (sentiment, 0.5)] {
                let n = bits.count_ones() as f32;
                for (i, vote) in votes.iter_mut().enumerate() {
                    if bits & (1 << i) != 0 {
                        *vote += weight / n;
                    }
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..6).collect();
    order.sort_by(|&a, &b| votes[b].total_cmp(&votes[a]));
    let (best, second) = (votes[order[0]], votes[order[1]]);
    if best >= 1.0 && best >= second + 0.5 && best >= 1.5 * second {
        (LATIN[order[0]], LATIN[order[0]])
    } else if han > 0 {
        ("zh", "zh")
    } else if best > 0.0 {
        ("unknown", LATIN[order[0]])
    } else {
        ("unknown", "en")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_the_seven_languages() {
        for (text, lang) in [
            ("The delivery was late and nobody called me back.", "en"),
            (
                "De levering was te laat en niemand heeft mij teruggebeld.",
                "nl",
            ),
            (
                "Die Lieferung kam zu spät und niemand hat sich gemeldet.",
                "de",
            ),
            (
                "La livraison est arrivée en retard et personne ne m'a rappelé.",
                "fr",
            ),
            ("La entrega llegó tarde y nadie me llamó.", "es"),
            ("Dostava je kasnila i nitko mi se nije javio.", "hr"),
            ("送货太慢了，也没有人给我回电话。", "zh"),
            ("Heel vriendelijk personeel", "nl"),
            ("Muy buena atención", "es"),
            ("Sehr gut!", "de"),
        ] {
            assert_eq!(detect(text), lang, "{text}");
        }
    }

    #[test]
    fn too_short_is_unknown() {
        for text in ["", "ok", "10/10", "👍", "Amazing", "   ", "@acme"] {
            assert_eq!(detect(text), "unknown", "{text:?}");
        }
    }

    /// Too short to report, but read in the language that leads; English without any vote.
    #[test]
    fn unknown_text_is_read_in_the_leading_language() {
        for (text, reading) in [
            ("rico", "es"),
            ("lekker", "nl"),
            ("Amazing", "en"),
            ("10/10", "en"),
            ("que triste me siento", "fr"),
        ] {
            assert_eq!(identify(text), ("unknown", reading), "{text:?}");
        }
        assert_eq!(identify("送货太慢了"), ("zh", "zh"));
    }

    #[test]
    fn function_words_by_language() {
        assert!(is_function_word_of("porque", "es"));
        assert!(!is_function_word_of("want", "en"));
        assert!(is_function_word("want"));
    }
}
