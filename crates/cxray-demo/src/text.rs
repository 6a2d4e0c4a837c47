//! Comment and ticket texts of the demo, in seven languages, written for cxray. Each theme has
//! negative and positive phrasings; passives get a positive and a negative sentence joined by
//! "but", so the text analytics sees contrast.

use crate::Rng;

/// What a comment is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Theme {
    DeliveryDelay,
    Staff,
    Price,
    App,
    Waiting,
    Quality,
}

const THEMES: [Theme; 6] = [
    Theme::DeliveryDelay,
    Theme::Staff,
    Theme::Price,
    Theme::App,
    Theme::Waiting,
    Theme::Quality,
];

/// (language, theme, positive?, phrasings)
type Entry = (&'static str, Theme, bool, &'static [&'static str]);

const PHRASES: &[Entry] = &[
    (
        "en",
        Theme::DeliveryDelay,
        false,
        &[
            "My order arrived a week late.",
            "Delivery was delayed again and nobody told me.",
            "Still waiting for my parcel, the delivery is very slow.",
        ],
    ),
    (
        "en",
        Theme::DeliveryDelay,
        true,
        &[
            "Fast delivery, it arrived the next day!",
            "The parcel came earlier than expected.",
        ],
    ),
    (
        "en",
        Theme::Staff,
        true,
        &[
            "The staff were friendly and helpful.",
            "Great customer service, very kind people.",
        ],
    ),
    (
        "en",
        Theme::Staff,
        false,
        &["The agent was rude and unhelpful."],
    ),
    (
        "en",
        Theme::Price,
        false,
        &["Too expensive for what you get.", "Prices went up again."],
    ),
    ("en", Theme::Price, true, &["Good value for money."]),
    (
        "en",
        Theme::App,
        false,
        &[
            "The app keeps crashing at checkout.",
            "The website is confusing.",
        ],
    ),
    (
        "en",
        Theme::App,
        true,
        &[
            "The app is easy to use.",
            "Ordering online is really simple.",
        ],
    ),
    (
        "en",
        Theme::Waiting,
        false,
        &[
            "I waited over an hour on the phone.",
            "Support takes forever to answer.",
        ],
    ),
    (
        "en",
        Theme::Waiting,
        true,
        &["Support answered within minutes."],
    ),
    (
        "en",
        Theme::Quality,
        true,
        &[
            "Excellent quality products.",
            "Really good quality, I love it!",
        ],
    ),
    (
        "en",
        Theme::Quality,
        false,
        &["The product broke after two days."],
    ),
    (
        "nl",
        Theme::DeliveryDelay,
        false,
        &[
            "Mijn bestelling kwam een week te laat.",
            "De levering was weer vertraagd en niemand liet iets weten.",
            "Ik wacht nog steeds op mijn pakket, de bezorging is erg traag.",
        ],
    ),
    (
        "nl",
        Theme::DeliveryDelay,
        true,
        &["Snelle levering, de volgende dag al in huis!"],
    ),
    (
        "nl",
        Theme::Staff,
        true,
        &["Vriendelijk en behulpzaam personeel."],
    ),
    (
        "nl",
        Theme::Staff,
        false,
        &["De medewerker was onbeleefd en hielp niet."],
    ),
    (
        "nl",
        Theme::Price,
        false,
        &[
            "Veel te duur voor wat je krijgt.",
            "De prijzen zijn weer omhoog gegaan.",
        ],
    ),
    (
        "nl",
        Theme::Price,
        true,
        &["Goede prijs-kwaliteitverhouding."],
    ),
    (
        "nl",
        Theme::App,
        false,
        &["De app loopt steeds vast bij het afrekenen."],
    ),
    (
        "nl",
        Theme::App,
        true,
        &["De app is makkelijk te gebruiken."],
    ),
    (
        "nl",
        Theme::Waiting,
        false,
        &["Ik heb meer dan een uur aan de telefoon gewacht."],
    ),
    (
        "nl",
        Theme::Waiting,
        true,
        &["De klantenservice reageerde binnen een paar minuten."],
    ),
    (
        "nl",
        Theme::Quality,
        true,
        &["Producten van uitstekende kwaliteit."],
    ),
    (
        "nl",
        Theme::Quality,
        false,
        &["Het product ging na twee dagen kapot."],
    ),
    (
        "de",
        Theme::DeliveryDelay,
        false,
        &[
            "Meine Bestellung kam eine Woche zu spät.",
            "Die Lieferung war wieder verspätet und niemand hat sich gemeldet.",
        ],
    ),
    (
        "de",
        Theme::DeliveryDelay,
        true,
        &["Schnelle Lieferung, schon am nächsten Tag da!"],
    ),
    (
        "de",
        Theme::Staff,
        true,
        &["Freundliche und hilfsbereite Mitarbeiter."],
    ),
    (
        "de",
        Theme::Staff,
        false,
        &["Der Mitarbeiter war unhöflich."],
    ),
    (
        "de",
        Theme::Price,
        false,
        &["Viel zu teuer für das, was man bekommt."],
    ),
    (
        "de",
        Theme::Price,
        true,
        &["Gutes Preis-Leistungs-Verhältnis."],
    ),
    (
        "de",
        Theme::App,
        false,
        &["Die App stürzt beim Bezahlen ständig ab."],
    ),
    (
        "de",
        Theme::App,
        true,
        &["Die App ist einfach zu bedienen."],
    ),
    (
        "de",
        Theme::Waiting,
        false,
        &["Ich habe über eine Stunde in der Warteschleife gewartet."],
    ),
    (
        "de",
        Theme::Waiting,
        true,
        &["Der Kundendienst hat sofort geantwortet."],
    ),
    (
        "de",
        Theme::Quality,
        true,
        &["Produkte von ausgezeichneter Qualität."],
    ),
    (
        "de",
        Theme::Quality,
        false,
        &["Das Produkt war nach zwei Tagen kaputt."],
    ),
    (
        "fr",
        Theme::DeliveryDelay,
        false,
        &[
            "Ma commande est arrivée avec une semaine de retard.",
            "La livraison a encore été retardée et personne ne m'a prévenu.",
        ],
    ),
    (
        "fr",
        Theme::DeliveryDelay,
        true,
        &["Livraison rapide, reçu dès le lendemain !"],
    ),
    (
        "fr",
        Theme::Staff,
        true,
        &["Personnel aimable et serviable."],
    ),
    ("fr", Theme::Staff, false, &["Le conseiller était impoli."]),
    (
        "fr",
        Theme::Price,
        false,
        &["Beaucoup trop cher pour ce que c'est."],
    ),
    ("fr", Theme::Price, true, &["Bon rapport qualité-prix."]),
    (
        "fr",
        Theme::App,
        false,
        &["L'application plante tout le temps au moment de payer."],
    ),
    (
        "fr",
        Theme::App,
        true,
        &["L'application est facile à utiliser."],
    ),
    (
        "fr",
        Theme::Waiting,
        false,
        &["J'ai attendu plus d'une heure au téléphone."],
    ),
    (
        "fr",
        Theme::Waiting,
        true,
        &["Le service client a répondu en quelques minutes."],
    ),
    (
        "fr",
        Theme::Quality,
        true,
        &["Des produits d'excellente qualité."],
    ),
    (
        "fr",
        Theme::Quality,
        false,
        &["Le produit s'est cassé au bout de deux jours."],
    ),
    (
        "es",
        Theme::DeliveryDelay,
        false,
        &[
            "Mi pedido llegó con una semana de retraso.",
            "La entrega se retrasó otra vez y nadie me avisó.",
        ],
    ),
    (
        "es",
        Theme::DeliveryDelay,
        true,
        &["Entrega rápida, ¡llegó al día siguiente!"],
    ),
    (
        "es",
        Theme::Staff,
        true,
        &["El personal fue amable y servicial."],
    ),
    ("es", Theme::Staff, false, &["El agente fue grosero."]),
    (
        "es",
        Theme::Price,
        false,
        &["Demasiado caro para lo que ofrecen."],
    ),
    (
        "es",
        Theme::Price,
        true,
        &["Buena relación calidad-precio."],
    ),
    (
        "es",
        Theme::App,
        false,
        &["La aplicación se bloquea siempre al pagar."],
    ),
    ("es", Theme::App, true, &["La aplicación es fácil de usar."]),
    (
        "es",
        Theme::Waiting,
        false,
        &["Esperé más de una hora al teléfono."],
    ),
    (
        "es",
        Theme::Waiting,
        true,
        &["Atención al cliente respondió en pocos minutos."],
    ),
    (
        "es",
        Theme::Quality,
        true,
        &["Productos de excelente calidad."],
    ),
    (
        "es",
        Theme::Quality,
        false,
        &["El producto se rompió a los dos días."],
    ),
    (
        "hr",
        Theme::DeliveryDelay,
        false,
        &[
            "Moja narudžba stigla je tjedan dana kasnije.",
            "Dostava je opet kasnila i nitko mi nije javio.",
        ],
    ),
    (
        "hr",
        Theme::DeliveryDelay,
        true,
        &["Brza dostava, stiglo je već sljedeći dan!"],
    ),
    (
        "hr",
        Theme::Staff,
        true,
        &["Osoblje je bilo ljubazno i uslužno."],
    ),
    (
        "hr",
        Theme::Staff,
        false,
        &["Djelatnik je bio nepristojan."],
    ),
    (
        "hr",
        Theme::Price,
        false,
        &["Preskupo za ono što dobijete."],
    ),
    (
        "hr",
        Theme::Price,
        true,
        &["Dobar omjer cijene i kvalitete."],
    ),
    (
        "hr",
        Theme::App,
        false,
        &["Aplikacija se stalno ruši pri plaćanju."],
    ),
    (
        "hr",
        Theme::App,
        true,
        &["Aplikacija je jednostavna za korištenje."],
    ),
    (
        "hr",
        Theme::Waiting,
        false,
        &["Čekao sam više od sat vremena na telefonu."],
    ),
    (
        "hr",
        Theme::Waiting,
        true,
        &["Korisnička podrška odgovorila je za nekoliko minuta."],
    ),
    (
        "hr",
        Theme::Quality,
        true,
        &["Proizvodi izvrsne kvalitete."],
    ),
    (
        "hr",
        Theme::Quality,
        false,
        &["Proizvod se pokvario nakon dva dana."],
    ),
    (
        "zh",
        Theme::DeliveryDelay,
        false,
        &["我的订单晚了一个星期才到。", "送货又延迟了，也没人通知我。"],
    ),
    (
        "zh",
        Theme::DeliveryDelay,
        true,
        &["送货很快，第二天就到了！"],
    ),
    ("zh", Theme::Staff, true, &["工作人员很友好，也很热情。"]),
    ("zh", Theme::Staff, false, &["客服态度很差。"]),
    ("zh", Theme::Price, false, &["太贵了，不值这个价。"]),
    ("zh", Theme::Price, true, &["性价比很高。"]),
    ("zh", Theme::App, false, &["付款的时候应用总是崩溃。"]),
    ("zh", Theme::App, true, &["应用很好用。"]),
    ("zh", Theme::Waiting, false, &["我在电话里等了一个多小时。"]),
    ("zh", Theme::Waiting, true, &["客服几分钟就回复了。"]),
    ("zh", Theme::Quality, true, &["产品质量非常好。"]),
    ("zh", Theme::Quality, false, &["产品两天就坏了。"]),
];

fn phrase(rng: &mut Rng, lang: &str, theme: Theme, positive: bool) -> &'static str {
    let found = PHRASES
        .iter()
        .find(|(l, t, p, _)| *l == lang && *t == theme && *p == positive)
        .or_else(|| {
            PHRASES
                .iter()
                .find(|(l, t, p, _)| *l == "en" && *t == theme && *p == positive)
        })
        .expect("every theme has English phrasings");
    found.3[rng.below(found.3.len() as u64) as usize]
}

fn but(lang: &str) -> &'static str {
    match lang {
        "nl" => "Maar",
        "de" => "Aber",
        "fr" => "Mais",
        "es" => "Pero",
        "hr" => "Ali",
        "zh" => "但是",
        _ => "But",
    }
}

/// A theme fitting the respondent's category (-1 detractor, 0 passive, 1 promoter).
pub fn pick_theme(rng: &mut Rng, category: i8) -> Theme {
    match category {
        c if c < 0 => *rng.pick(&[
            Theme::Price,
            Theme::Waiting,
            Theme::Quality,
            Theme::App,
            Theme::Staff,
            Theme::DeliveryDelay,
        ]),
        _ => *rng.pick(&THEMES),
    }
}

/// A comment in `lang` about `theme`, in the tone of `category`.
pub fn comment(rng: &mut Rng, lang: &str, theme: Theme, category: i8) -> String {
    match category {
        c if c < 0 => phrase(rng, lang, theme, false).to_string(),
        c if c > 0 => phrase(rng, lang, theme, true).to_string(),
        _ => {
            let other = *rng.pick(&THEMES);
            let good = phrase(rng, lang, other, true);
            let bad = phrase(rng, lang, theme, false);
            if lang == "zh" {
                format!("{good}{}{bad}", but(lang))
            } else {
                format!("{good} {} {}", but(lang), lowercase_first(bad))
            }
        }
    }
}

/// One of many ways to say `text`: real comments rarely repeat word for word, and a demo whose
/// comments do would let the analysis of identical texts hide the cost of text analytics.
/// Sometimes a second phrasing of the same theme and tone follows (a passive's mixed comment
/// stays as it is); often the customer quotes an order reference. Themes and the sign of the
/// sentiment stay those of `text`.
pub fn vary(rng: &mut Rng, text: String, lang: &str, theme: Theme, category: i8) -> String {
    let mut out = text;
    if category != 0 && rng.chance(0.35) {
        let second = phrase(rng, lang, theme, category > 0);
        if !out.contains(second) {
            if lang != "zh" {
                out.push(' ');
            }
            out.push_str(second);
        }
    }
    if rng.chance(0.6) {
        out.push_str(&format!(" (#{})", 10_000 + rng.below(990_000)));
    }
    out
}

fn lowercase_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// A ticket description for a support category.
pub fn ticket_text(rng: &mut Rng, lang: &str, category: &str) -> String {
    let theme = match category {
        "delivery" => Theme::DeliveryDelay,
        "billing" => Theme::Price,
        "account" => Theme::App,
        _ => Theme::Quality,
    };
    phrase(rng, lang, theme, false).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Varied comments keep what the analysis reads from the base comment (its themes; a
    /// sentiment read in the comment's tone stays so) and are mostly distinct. A second
    /// phrasing may name one theme more.
    #[test]
    fn varied_comments_say_the_same_in_other_words() {
        let analyzer = cxray_text::Analyzer::default();
        let mut rng = Rng::new(7);
        let mut words = Rng::new(8);
        let mut distinct = std::collections::HashSet::new();
        let mut n = 0;
        for lang in ["en", "nl", "de", "fr", "es", "hr", "zh"] {
            for theme in THEMES {
                for category in [-1i8, 1] {
                    for _ in 0..20 {
                        let base = comment(&mut rng, lang, theme, category);
                        let varied = vary(&mut words, base.clone(), lang, theme, category);
                        assert!(varied.starts_with(&base), "{varied:?}");
                        let (a, b) = (analyzer.analyze(&base), analyzer.analyze(&varied));
                        assert!(
                            a.themes.iter().all(|t| b.themes.contains(t)),
                            "{base:?} {:?} vs {varied:?} {:?}",
                            a.themes,
                            b.themes
                        );
                        // A comment read in its tone is still read in its tone.
                        let tone = f64::from(category);
                        assert!(
                            a.sentiment * tone <= 0.0 || b.sentiment * tone > 0.0,
                            "{base:?} ({}) vs {varied:?} ({})",
                            a.sentiment,
                            b.sentiment
                        );
                        distinct.insert(varied);
                        n += 1;
                    }
                }
            }
        }
        assert!(
            distinct.len() * 10 > n * 6,
            "{} distinct of {n}",
            distinct.len()
        );
    }
}
