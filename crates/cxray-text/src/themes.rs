//! What customers talk about: a built-in customer-experience taxonomy in seven languages that
//! users can extend or replace in `cxray.toml`, and automatic themes for what the taxonomy
//! misses — frequent content words, grouped by stem, labelled with their most common form.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::lexicon::lexicon;
use crate::sentiment::Token;

/// The built-in taxonomy: theme → keywords (any language; matched on whole words, or on word
/// stems for words of five letters or more; Chinese keywords match segmented words).
pub const TAXONOMY: &[(&str, &str)] = &[
    (
        "delivery",
        "delivery deliveries delivered deliver shipping shipment parcel package courier arrived late delay delayed delays tracking \
         levering bezorging bezorgd geleverd pakket pakketje vertraagd vertraging laat \
         lieferung geliefert paket zustellung verspätet verspätung spät \
         livraison livré colis retard retardée expédition \
         entrega entregado pedido envío paquete retraso retrasó llegó \
         dostava dostavljeno paket pošiljka kasnila kasnio kašnjenje stigla \
         送货 快递 物流 配送 发货 延迟 晚",
    ),
    (
        "price",
        "price prices pricing expensive cheap cost costs overpriced value money fee fees \
         prijs prijzen duur goedkoop kosten \
         preis preise teuer billig kosten \
         prix cher chère coût tarif \
         precio precios caro cara barato coste \
         cijena cijene skupo skup jeftino preskupo \
         价格 贵 便宜 价钱 性价比 收费",
    ),
    (
        "staff",
        "staff employee employees agent agents rude friendly helpful polite manager people service \
         personeel medewerker medewerkers vriendelijk behulpzaam onbeleefd \
         mitarbeiter personal freundlich unhöflich hilfsbereit \
         personnel conseiller vendeur aimable serviable impoli \
         personal agente empleado amable servicial grosero \
         osoblje djelatnik zaposlenik ljubazno ljubazan uslužno nepristojan \
         工作人员 服务员 客服 态度 热情 服务",
    ),
    (
        "waiting time",
        "wait waited waiting hold queue hour hours forever response reply answer answered callback \
         wachten gewacht wachttijd klantenservice reageerde \
         warten gewartet warteschleife kundendienst antwort geantwortet \
         attendre attendu attente répondu réponse \
         esperar esperé espera respondió respuesta \
         čekati čekao čekala čekanje odgovorila podrška \
         等 等了 等待 回复 回电话 排队",
    ),
    (
        "app and website",
        "app website site online checkout login crash crashes crashing bug ordering \
         website afrekenen inloggen \
         webseite bezahlen abstürzt stürzt \
         application site paiement plante \
         aplicación web pagar bloquea \
         aplikacija stranica plaćanju ruši \
         应用 网站 软件 付款 崩溃 app",
    ),
    (
        "product quality",
        "quality broke broken defective damaged faulty product products \
         kwaliteit kapot beschadigd product \
         qualität kaputt beschädigt produkt \
         qualité cassé abîmé produit \
         calidad roto rompió defectuoso producto \
         kvaliteta kvalitete pokvario pokvarila proizvod \
         质量 坏 坏了 破损 产品",
    ),
    (
        "refunds and returns",
        "refund refunded return returns returned exchange \
         terugbetaling retour retourneren geld \
         rückerstattung rücksendung umtausch \
         remboursement retour rembourser \
         reembolso devolución devolver \
         povrat vratiti \
         退款 退货 换货",
    ),
];

/// A theme definition: name and keywords.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThemeDef {
    pub name: String,
    pub keywords: Vec<String>,
}

/// The built-in taxonomy as definitions.
pub fn builtin() -> Vec<ThemeDef> {
    TAXONOMY
        .iter()
        .map(|(n, k)| ThemeDef {
            name: n.to_string(),
            keywords: k.split_whitespace().map(str::to_string).collect(),
        })
        .collect()
}

/// Keyword → theme index, exact and by stem.
pub struct ThemeMatcher {
    pub names: Vec<String>,
    exact: HashMap<String, Vec<usize>>,
    stems: HashMap<String, Vec<usize>>,
}

fn stem(lang_hint: Option<&str>, w: &str) -> Option<String> {
    if w.chars().count() < 5 || !w.chars().all(char::is_alphabetic) {
        return None;
    }
    let lex = lexicon(lang_hint.unwrap_or("en"));
    lex.stemmer.as_ref().map(|s| s.stem(w).into_owned())
}

impl ThemeMatcher {
    /// Builds a matcher over theme definitions (keywords of any language).
    pub fn new(defs: &[ThemeDef]) -> Self {
        let mut exact: HashMap<String, Vec<usize>> = HashMap::new();
        let mut stems: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, d) in defs.iter().enumerate() {
            for k in &d.keywords {
                let k = k.to_lowercase();
                exact.entry(k.clone()).or_default().push(i);
                for lang in ["en", "nl", "de", "fr", "es"] {
                    if let Some(s) = stem(Some(lang), &k) {
                        let e = stems.entry(format!("{lang}:{s}")).or_default();
                        if !e.contains(&i) {
                            e.push(i);
                        }
                    }
                }
            }
        }
        ThemeMatcher {
            names: defs.iter().map(|d| d.name.clone()).collect(),
            exact,
            stems,
        }
    }

    /// Theme indices present in tokenised text of a language.
    pub(crate) fn themes(&self, tokens: &[Token], lang: &str) -> Vec<usize> {
        let mut out: Vec<usize> = Vec::new();
        for t in tokens {
            let hit = self.exact.get(&t.lower).or_else(|| {
                stem(Some(lang), &t.lower).and_then(|s| self.stems.get(&format!("{lang}:{s}")))
            });
            if let Some(ids) = hit {
                for &i in ids {
                    if !out.contains(&i) {
                        out.push(i);
                    }
                }
            }
        }
        out.sort_unstable();
        out
    }
}

/// A theme found automatically in a corpus.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DiscoveredTheme {
    /// The most frequent surface form of the group.
    pub label: String,
    pub language: String,
    /// Surface forms grouped under the label (same stem).
    pub forms: Vec<String>,
    /// Comments mentioning it.
    pub documents: u64,
}

/// Everyday words that are frequent in comments but name no topic (verbs of motion, time units,
/// adverbs), per language, written for cxray; discovery skips them.
const NOT_TOPICS: &str = "within came come comes coming got get gets getting went going gone made make makes     take took told tell said say says thing things something anything nothing everything     day days week weeks month months year years hour hours minute minutes time times today yesterday     always ever even really much many lot lots other another every each same back first last next     steeds altijd weer keer dagen dag weken uur minuten gisteren vandaag gekregen kreeg krijgen kwam     immer wieder mal tage tag wochen stunden minuten gestern heute bekommen kam kommt     toujours encore fois jours jour semaines heures minutes hier aujourd'hui reçu venu     siempre otra vez días día semanas horas minutos ayer hoy recibí llegó     uvijek opet puta dana dan tjedana sati minuta jučer danas dobio došao";

fn not_topic(w: &str) -> bool {
    static S: std::sync::OnceLock<std::collections::HashSet<&'static str>> =
        std::sync::OnceLock::new();
    S.get_or_init(|| NOT_TOPICS.split_whitespace().collect())
        .contains(w)
}

/// Frequent content words not covered by the taxonomy, grouped by stem: words of at least
/// four letters that are neither function words, everyday non-topic words, sentiment words nor
/// taxonomy keywords, in at least `min_docs` comments and 1% of the comments of their
/// language, and not mostly (≥ 60% of their comments) said alongside a taxonomy theme — such a
/// word is a facet of that theme, not something the taxonomy misses.
pub(crate) fn discover(
    docs: &[(Vec<Token>, &str)],
    matcher: &ThemeMatcher,
    min_docs: u64,
    max_themes: usize,
) -> Vec<DiscoveredTheme> {
    let mut per_lang_docs: HashMap<&str, u64> = HashMap::new();
    // (lang, stem) -> (documents, documents with a taxonomy theme, surface form counts)
    type Group = (u64, u64, HashMap<String, u64>);
    let mut groups: BTreeMap<(String, String), Group> = BTreeMap::new();
    for (tokens, lang) in docs {
        *per_lang_docs.entry(lang).or_default() += 1;
        let lex = lexicon(lang);
        let themed = !matcher.themes(tokens, lang).is_empty();
        let mut seen: Vec<String> = Vec::new();
        for t in tokens {
            let w = &t.lower;
            if w.chars().count() < 4 && !w.chars().all(crate::lang::is_han)
                || w.chars().count() < 2
                || w.chars().any(|c| c.is_ascii_digit())
                || crate::lang::is_function_word(w)
                || not_topic(w)
                || lex.valence(w).is_some()
                || lex.rules.negations.contains(&w.as_str())
                || lex.rules.boosters.contains(&w.as_str())
                || !matcher.themes(std::slice::from_ref(t), lang).is_empty()
            {
                continue;
            }
            let key = stem(Some(lang), w).unwrap_or_else(|| w.clone());
            if seen.contains(&key) {
                continue;
            }
            seen.push(key.clone());
            let g = groups.entry((lang.to_string(), key)).or_default();
            g.0 += 1;
            g.1 += u64::from(themed);
            *g.2.entry(w.clone()).or_default() += 1;
        }
    }
    let mut out: Vec<DiscoveredTheme> = groups
        .into_iter()
        .filter(|((lang, _), (n, themed, _))| {
            *n >= min_docs
                && *n * 100 >= per_lang_docs.get(lang.as_str()).copied().unwrap_or(0)
                && *themed * 10 < *n * 6
        })
        .map(|((lang, _), (n, _, forms))| {
            let mut f: Vec<(String, u64)> = forms.into_iter().collect();
            f.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            DiscoveredTheme {
                label: f[0].0.clone(),
                language: lang,
                forms: f.into_iter().map(|x| x.0).collect(),
                documents: n,
            }
        })
        .collect();
    out.sort_by(|a, b| b.documents.cmp(&a.documents).then(a.label.cmp(&b.label)));
    out.truncate(max_themes);
    out
}
