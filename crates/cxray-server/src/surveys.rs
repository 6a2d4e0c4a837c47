//! The surveys of `[[surveys]]`, checked against the metric catalog when the server starts,
//! and the words of their pages in the languages cxray speaks (en, nl, de, fr, es, hr, zh).
//! A question without its own text gets cxray's wording of its metric's question.

use std::collections::BTreeMap;

use cxray_metrics::{MetricCatalog, MetricKind, MetricSpec};
use cxray_project::{SurveyConfig, Texts};

/// Languages with built-in wordings.
pub const LANGUAGES: [&str; 7] = ["en", "nl", "de", "fr", "es", "hr", "zh"];

/// A checked survey.
#[derive(Debug, Clone)]
pub struct Survey {
    pub config: SurveyConfig,
    pub languages: Vec<String>,
    pub questions: Vec<Question>,
}

/// A checked question.
#[derive(Debug, Clone)]
pub enum Question {
    /// A score on the metric's scale.
    Scale {
        spec: MetricSpec,
        text: Texts,
        low: Texts,
        high: Texts,
    },
    /// The reason for the answer to `metric` (its comment).
    Reason {
        metric: String,
        text: Texts,
        below: Option<(f64, Texts)>,
    },
}

impl Question {
    /// The metric whose answer this question sets (score or comment).
    pub fn metric(&self) -> &str {
        match self {
            Question::Scale { spec, .. } => &spec.name,
            Question::Reason { metric, .. } => metric,
        }
    }
}

/// The word `key` in `lang`, else in English.
pub fn word(key: &str, lang: &str) -> &'static str {
    let row = WORDS
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, r)| r)
        .unwrap_or_else(|| panic!("no word {key}"));
    let i = LANGUAGES.iter().position(|l| *l == lang).unwrap_or(0);
    row[i]
}

/// The text of `texts` in `lang`, else in `fallback` (the survey's first language), else any.
pub fn pick<'a>(texts: &'a Texts, lang: &str, fallback: &str) -> Option<&'a str> {
    texts
        .get(lang)
        .or_else(|| texts.get(fallback))
        .or_else(|| texts.values().next())
        .map(String::as_str)
}

/// Built-in texts in the order of [`LANGUAGES`].
type Row = [&'static str; 7];

const WORDS: &[(&str, Row)] = &[
    (
        "next",
        [
            "Next",
            "Volgende",
            "Weiter",
            "Suivant",
            "Siguiente",
            "Dalje",
            "下一步",
        ],
    ),
    (
        "skip",
        [
            "Skip",
            "Overslaan",
            "Überspringen",
            "Passer",
            "Omitir",
            "Preskoči",
            "跳过",
        ],
    ),
    (
        "question_of",
        [
            "Question {k} of {n}",
            "Vraag {k} van {n}",
            "Frage {k} von {n}",
            "Question {k} sur {n}",
            "Pregunta {k} de {n}",
            "Pitanje {k} od {n}",
            "第 {k} 题，共 {n} 题",
        ],
    ),
    (
        "choose",
        [
            "Please choose an answer, or skip the question.",
            "Kies een antwoord of sla de vraag over.",
            "Bitte wählen Sie eine Antwort oder überspringen Sie die Frage.",
            "Veuillez choisir une réponse ou passer la question.",
            "Elija una respuesta u omita la pregunta.",
            "Odaberite odgovor ili preskočite pitanje.",
            "请选择一个答案，或跳过此问题。",
        ],
    ),
    (
        "thanks",
        [
            "Thank you for your answers.",
            "Bedankt voor uw antwoorden.",
            "Vielen Dank für Ihre Antworten.",
            "Merci pour vos réponses.",
            "Gracias por sus respuestas.",
            "Hvala na vašim odgovorima.",
            "感谢您的回答。",
        ],
    ),
    (
        "change",
        [
            "You can change your answers until the link expires.",
            "U kunt uw antwoorden wijzigen tot de link verloopt.",
            "Sie können Ihre Antworten ändern, bis der Link abläuft.",
            "Vous pouvez modifier vos réponses jusqu'à l'expiration du lien.",
            "Puede cambiar sus respuestas hasta que caduque el enlace.",
            "Odgovore možete mijenjati dok poveznica ne istekne.",
            "在链接过期之前，您可以修改您的回答。",
        ],
    ),
    (
        "expired",
        [
            "This survey link has expired.",
            "Deze enquêtelink is verlopen.",
            "Dieser Umfragelink ist abgelaufen.",
            "Ce lien d'enquête a expiré.",
            "Este enlace de la encuesta ha caducado.",
            "Ova poveznica na anketu je istekla.",
            "此调查链接已过期。",
        ],
    ),
    (
        "invalid",
        [
            "This survey link is not valid.",
            "Deze enquêtelink is ongeldig.",
            "Dieser Umfragelink ist ungültig.",
            "Ce lien d'enquête n'est pas valide.",
            "Este enlace de la encuesta no es válido.",
            "Ova poveznica na anketu nije valjana.",
            "此调查链接无效。",
        ],
    ),
    (
        "closed",
        [
            "This survey is closed.",
            "Deze enquête is gesloten.",
            "Diese Umfrage ist geschlossen.",
            "Cette enquête est close.",
            "Esta encuesta está cerrada.",
            "Ova anketa je zatvorena.",
            "此调查已关闭。",
        ],
    ),
    (
        "reason",
        [
            "What is the main reason for your score?",
            "Wat is de belangrijkste reden voor uw score?",
            "Was ist der wichtigste Grund für Ihre Bewertung?",
            "Quelle est la principale raison de votre note ?",
            "¿Cuál es el motivo principal de su puntuación?",
            "Koji je glavni razlog vaše ocjene?",
            "您给出这个分数的主要原因是什么？",
        ],
    ),
    (
        "unsubscribe_ask",
        [
            "Do you want to stop receiving our surveys?",
            "Wilt u geen enquêtes meer van ons ontvangen?",
            "Möchten Sie keine Umfragen mehr von uns erhalten?",
            "Voulez-vous ne plus recevoir nos enquêtes ?",
            "¿Desea dejar de recibir nuestras encuestas?",
            "Želite li prestati primati naše ankete?",
            "您想停止接收我们的调查吗？",
        ],
    ),
    (
        "unsubscribe",
        [
            "Unsubscribe",
            "Afmelden",
            "Abmelden",
            "Se désabonner",
            "Darse de baja",
            "Odjava",
            "退订",
        ],
    ),
    (
        "unsubscribed",
        [
            "You will not receive our surveys any more.",
            "U ontvangt geen enquêtes meer van ons.",
            "Sie erhalten keine Umfragen mehr von uns.",
            "Vous ne recevrez plus nos enquêtes.",
            "Ya no recibirá nuestras encuestas.",
            "Više nećete primati naše ankete.",
            "您将不会再收到我们的调查。",
        ],
    ),
    (
        "email_subject",
        [
            "A quick question about your experience",
            "Een korte vraag over uw ervaring",
            "Eine kurze Frage zu Ihrer Erfahrung",
            "Une petite question sur votre expérience",
            "Una pregunta rápida sobre su experiencia",
            "Kratko pitanje o vašem iskustvu",
            "关于您体验的一个小问题",
        ],
    ),
    (
        "email_click",
        [
            "Click your answer: the survey opens with it chosen.",
            "Klik op uw antwoord: de enquête opent met dat antwoord gekozen.",
            "Klicken Sie auf Ihre Antwort: Die Umfrage öffnet sich mit dieser Auswahl.",
            "Cliquez sur votre réponse : l'enquête s'ouvre avec ce choix.",
            "Haga clic en su respuesta: la encuesta se abre con ella elegida.",
            "Kliknite svoj odgovor: anketa se otvara s njim odabranim.",
            "点击您的答案：调查将以该选项打开。",
        ],
    ),
    (
        "email_open",
        [
            "Open the survey",
            "Open de enquête",
            "Umfrage öffnen",
            "Ouvrir l'enquête",
            "Abrir la encuesta",
            "Otvori anketu",
            "打开调查",
        ],
    ),
    ("no", ["No", "Nee", "Nein", "Non", "No", "Ne", "否"]),
    (
        "close",
        [
            "Close",
            "Sluiten",
            "Schließen",
            "Fermer",
            "Cerrar",
            "Zatvori",
            "关闭",
        ],
    ),
    (
        "survey",
        [
            "Survey", "Enquête", "Umfrage", "Enquête", "Encuesta", "Anketa", "调查",
        ],
    ),
    ("yes", ["Yes", "Ja", "Ja", "Oui", "Sí", "Da", "是"]),
];

/// cxray's wording of a built-in metric's question and of its scale's ends.
fn metric_words(metric: &str) -> Option<[Row; 3]> {
    Some(match metric {
        "nps" => [
            [
                "How likely are you to recommend us to a friend or colleague?",
                "Hoe waarschijnlijk is het dat u ons aanbeveelt bij een vriend of collega?",
                "Wie wahrscheinlich ist es, dass Sie uns einem Freund oder Kollegen empfehlen?",
                "Quelle est la probabilité que vous nous recommandiez à un ami ou un collègue ?",
                "¿Qué probabilidad hay de que nos recomiende a un amigo o colega?",
                "Koliko je vjerojatno da biste nas preporučili prijatelju ili kolegi?",
                "您向朋友或同事推荐我们的可能性有多大？",
            ],
            [
                "Not at all likely",
                "Zeer onwaarschijnlijk",
                "Sehr unwahrscheinlich",
                "Pas du tout probable",
                "Nada probable",
                "Nimalo vjerojatno",
                "完全不可能",
            ],
            [
                "Extremely likely",
                "Zeer waarschijnlijk",
                "Sehr wahrscheinlich",
                "Très probable",
                "Muy probable",
                "Izuzetno vjerojatno",
                "极有可能",
            ],
        ],
        "csat" => [
            [
                "How satisfied are you with your experience?",
                "Hoe tevreden bent u over uw ervaring?",
                "Wie zufrieden sind Sie mit Ihrer Erfahrung?",
                "Dans quelle mesure êtes-vous satisfait de votre expérience ?",
                "¿Qué tan satisfecho está con su experiencia?",
                "Koliko ste zadovoljni svojim iskustvom?",
                "您对这次体验的满意程度如何？",
            ],
            [
                "Very dissatisfied",
                "Zeer ontevreden",
                "Sehr unzufrieden",
                "Très insatisfait",
                "Muy insatisfecho",
                "Vrlo nezadovoljan",
                "非常不满意",
            ],
            [
                "Very satisfied",
                "Zeer tevreden",
                "Sehr zufrieden",
                "Très satisfait",
                "Muy satisfecho",
                "Vrlo zadovoljan",
                "非常满意",
            ],
        ],
        "ces" => [
            [
                "How easy was it to get what you needed?",
                "Hoe gemakkelijk was het om te regelen wat u nodig had?",
                "Wie einfach war es, Ihr Anliegen zu erledigen?",
                "Dans quelle mesure a-t-il été facile d'obtenir ce dont vous aviez besoin ?",
                "¿Qué tan fácil fue conseguir lo que necesitaba?",
                "Koliko vam je bilo lako dobiti ono što vam je trebalo?",
                "获得您所需的帮助有多容易？",
            ],
            [
                "Very difficult",
                "Zeer moeilijk",
                "Sehr schwierig",
                "Très difficile",
                "Muy difícil",
                "Vrlo teško",
                "非常困难",
            ],
            [
                "Very easy",
                "Zeer gemakkelijk",
                "Sehr einfach",
                "Très facile",
                "Muy fácil",
                "Vrlo lako",
                "非常容易",
            ],
        ],
        "stars" => [
            [
                "How would you rate it?",
                "Hoe beoordeelt u het?",
                "Wie bewerten Sie es?",
                "Quelle note donneriez-vous ?",
                "¿Cómo lo valoraría?",
                "Kako biste to ocijenili?",
                "您会给出怎样的评价？",
            ],
            [
                "Poor", "Slecht", "Schlecht", "Mauvais", "Malo", "Loše", "很差",
            ],
            [
                "Excellent",
                "Uitstekend",
                "Ausgezeichnet",
                "Excellent",
                "Excelente",
                "Odlično",
                "非常好",
            ],
        ],
        "task" => [
            [
                "Were you able to do what you came to do?",
                "Is het gelukt om te doen waarvoor u kwam?",
                "Konnten Sie erledigen, weswegen Sie gekommen sind?",
                "Avez-vous pu faire ce pour quoi vous étiez venu ?",
                "¿Pudo hacer lo que vino a hacer?",
                "Jeste li uspjeli obaviti ono zbog čega ste došli?",
                "您完成了此行想做的事情吗？",
            ],
            ["No", "Nee", "Nein", "Non", "No", "Ne", "否"],
            ["Yes", "Ja", "Ja", "Oui", "Sí", "Da", "是"],
        ],
        _ => return None,
    })
}

fn row_texts(row: &Row) -> Texts {
    LANGUAGES
        .iter()
        .zip(row)
        .map(|(l, t)| (l.to_string(), t.to_string()))
        .collect()
}

/// `own` where given, else the built-in texts.
fn or_builtin(own: &Texts, builtin: Option<&Row>) -> Texts {
    if !own.is_empty() {
        return own.clone();
    }
    builtin.map(row_texts).unwrap_or_default()
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Checks the surveys of a project; the message names the survey and what is wrong.
pub fn check(
    configs: &[SurveyConfig],
    catalog: &MetricCatalog,
) -> Result<BTreeMap<String, Survey>, String> {
    let mut out = BTreeMap::new();
    for c in configs {
        let bad = |m: String| format!("[[surveys]] {:?}: {m}", c.id);
        if !valid_id(&c.id) {
            return Err(bad(
                "an id is 1 to 64 letters, digits, '-' or '_' (it is part of links)".into(),
            ));
        }
        let languages = if c.languages.is_empty() {
            vec!["en".to_string()]
        } else {
            c.languages.clone()
        };
        for l in &languages {
            if !(l.len() == 2 && l.bytes().all(|b| b.is_ascii_lowercase())) {
                return Err(bad(format!(
                    "language {l:?} is not a two-letter ISO 639-1 code"
                )));
            }
        }
        if c.questions.is_empty() {
            return Err(bad("a survey needs at least one question".into()));
        }
        let mut questions: Vec<Question> = Vec::new();
        for (k, q) in c.questions.iter().enumerate() {
            let at = |m: String| bad(format!("question {}: {m}", k + 1));
            let question = match (&q.metric, &q.reason_for) {
                (Some(m), None) => {
                    let spec = catalog
                        .get(&m.to_lowercase())
                        .map_err(|e| at(e.to_string()))?;
                    if spec.max - spec.min > 10.0 || !spec.integer {
                        return Err(at(format!(
                            "{} is not a scale of at most 11 whole points; a survey page shows \
                             one choice per point",
                            spec.name
                        )));
                    }
                    let builtin = metric_words(&spec.name);
                    Question::Scale {
                        text: or_builtin(&q.text, builtin.as_ref().map(|b| &b[0])),
                        low: or_builtin(&q.low_label, builtin.as_ref().map(|b| &b[1])),
                        high: or_builtin(&q.high_label, builtin.as_ref().map(|b| &b[2])),
                        spec: spec.clone(),
                    }
                }
                (None, Some(m)) => {
                    let m = m.to_lowercase();
                    if !questions
                        .iter()
                        .any(|p| matches!(p, Question::Scale { spec, .. } if spec.name == m))
                    {
                        return Err(at(format!(
                            "reason_for = {m:?} needs a question rating {m} before it"
                        )));
                    }
                    let reason = WORDS.iter().find(|(k, _)| *k == "reason").map(|(_, r)| r);
                    Question::Reason {
                        metric: m,
                        text: or_builtin(&q.text, reason),
                        below: q.if_below.as_ref().map(|b| (b.below, b.text.clone())),
                    }
                }
                _ => {
                    return Err(at(
                        "give either metric (a rated question) or reason_for (the open reason \
                         for an earlier rating)"
                            .into(),
                    ));
                }
            };
            if let Question::Scale { spec, .. } = &question
                && questions
                    .iter()
                    .any(|p| p.metric() == spec.name && matches!(p, Question::Scale { .. }))
            {
                return Err(at(format!("{} is rated twice", spec.name)));
            }
            let text = match &question {
                Question::Scale { text, .. } | Question::Reason { text, .. } => text,
            };
            if pick(text, &languages[0], &languages[0]).is_none() {
                return Err(at(
                    "the question has no text: give text = { en = \"…\" } (cxray words only \
                     its built-in metrics' questions)"
                        .into(),
                ));
            }
            questions.push(question);
        }
        if out.contains_key(&c.id) {
            return Err(bad("two surveys have this id".into()));
        }
        out.insert(
            c.id.clone(),
            Survey {
                config: c.clone(),
                languages,
                questions,
            },
        );
    }
    Ok(out)
}

impl Survey {
    /// The language to show: the one asked for (`?lang=`), else the link's (the customer's),
    /// else the browser's first one the survey has, else the survey's first.
    pub fn language(
        &self,
        asked: Option<&str>,
        link: Option<&str>,
        accept: Option<&str>,
    ) -> String {
        let offered = |l: &str| self.languages.iter().any(|s| s == l);
        for l in [asked, link].into_iter().flatten() {
            let l = l.to_ascii_lowercase();
            if offered(&l) {
                return l;
            }
        }
        if let Some(accept) = accept {
            let mut ranked: Vec<(f32, String)> = accept
                .split(',')
                .filter_map(|part| {
                    let mut it = part.split(';');
                    let tag = it.next()?.trim();
                    let q = it
                        .find_map(|p| p.trim().strip_prefix("q="))
                        .and_then(|q| q.parse().ok())
                        .unwrap_or(1.0);
                    let primary = tag.split('-').next()?.to_ascii_lowercase();
                    Some((q, primary))
                })
                .collect();
            ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
            if let Some((_, l)) = ranked.into_iter().find(|(q, l)| *q > 0.0 && offered(l)) {
                return l;
            }
        }
        self.languages[0].clone()
    }

    /// Whether a metric is a yes/no question (shown as two choices).
    pub fn is_binary(spec: &MetricSpec) -> bool {
        spec.kind == MetricKind::Binary
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cxray_project::SurveyQuestion;

    fn q(metric: Option<&str>, reason: Option<&str>) -> SurveyQuestion {
        SurveyQuestion {
            metric: metric.map(Into::into),
            reason_for: reason.map(Into::into),
            ..Default::default()
        }
    }

    fn survey(questions: Vec<SurveyQuestion>) -> SurveyConfig {
        SurveyConfig {
            id: "checkout".into(),
            languages: vec!["nl".into(), "en".into()],
            questions,
            ..Default::default()
        }
    }

    #[test]
    fn surveys_are_checked_against_the_catalog() {
        let cat = MetricCatalog::builtin();
        let ok = check(
            &[survey(vec![q(Some("NPS"), None), q(None, Some("nps"))])],
            &cat,
        )
        .unwrap();
        let s = &ok["checkout"];
        assert_eq!(s.questions.len(), 2);
        match &s.questions[0] {
            Question::Scale { text, low, .. } => {
                assert!(text["nl"].starts_with("Hoe waarschijnlijk"));
                assert_eq!(low["zh"], "完全不可能");
            }
            other => panic!("{other:?}"),
        }
        for (bad, says) in [
            (survey(vec![q(Some("loyalty"), None)]), "loyalty"),
            (
                survey(vec![q(None, Some("nps"))]),
                "needs a question rating nps before it",
            ),
            (survey(vec![q(Some("nps"), Some("nps"))]), "either metric"),
            (
                survey(vec![q(Some("nps"), None), q(Some("nps"), None)]),
                "rated twice",
            ),
            (survey(vec![]), "at least one question"),
            (
                SurveyConfig {
                    id: "a b".into(),
                    ..survey(vec![q(Some("nps"), None)])
                },
                "an id is",
            ),
            (
                SurveyConfig {
                    languages: vec!["dutch".into()],
                    ..survey(vec![q(Some("nps"), None)])
                },
                "ISO 639-1",
            ),
        ] {
            let e = check(&[bad], &cat).unwrap_err();
            assert!(e.contains(says), "{e}");
        }
        // A custom metric needs its own words.
        let declared = cxray_metrics::MetricDeclaration {
            scale: Some([1.0, 5.0]),
            good_from: None,
            name: Some("Effort".into()),
            integer: None,
            driver: false,
        };
        let cat = cat
            .with_declarations(&[("effort".to_string(), declared)].into_iter().collect())
            .unwrap();
        let e = check(&[survey(vec![q(Some("effort"), None)])], &cat).unwrap_err();
        assert!(e.contains("has no text"), "{e}");
    }

    #[test]
    fn a_closing_day_is_read_as_toml_writes_it() {
        for text in ["closes = 2026-12-31", "closes = \"2026-12-31\""] {
            let c: SurveyConfig = toml::from_str(&format!(
                "id = \"a\"\n{text}\n[[questions]]\nmetric = \"nps\"\n"
            ))
            .unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(c.closes, chrono::NaiveDate::from_ymd_opt(2026, 12, 31));
        }
    }

    #[test]
    fn the_language_follows_the_query_the_link_then_the_browser() {
        let s = &check(
            &[survey(vec![q(Some("nps"), None)])],
            &MetricCatalog::builtin(),
        )
        .unwrap()["checkout"];
        assert_eq!(s.language(Some("en"), Some("nl"), None), "en");
        assert_eq!(
            s.language(Some("fr"), Some("en"), None),
            "en",
            "fr is not offered"
        );
        assert_eq!(
            s.language(None, None, Some("de-DE,en-GB;q=0.8,nl;q=0.5")),
            "en"
        );
        assert_eq!(s.language(None, None, Some("en;q=0, nl;q=0.1")), "nl");
        assert_eq!(s.language(None, None, Some("garbage;;q=x")), "nl");
        assert_eq!(s.language(None, None, None), "nl");
        // Every built-in word exists in every language.
        for (k, row) in WORDS {
            assert!(row.iter().all(|w| !w.is_empty()), "{k}");
        }
        assert_eq!(word("next", "hr"), "Dalje");
        assert_eq!(word("next", "xx"), "Next");
    }
}
