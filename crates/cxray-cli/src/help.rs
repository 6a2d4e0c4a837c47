//! Help text made from the metric definitions, so that `--help` lists exactly what cxray
//! computes.

use cxray_metrics::MetricCatalog;
use cxray_metrics::operational::{Family, OPERATIONAL_METRICS};

/// Every metric `cxray metrics` computes, grouped by the data it needs.
pub fn metrics_list() -> String {
    let mut o = String::from("Metrics, by the data they need:\n\n  Survey answers (responses):\n");
    for s in MetricCatalog::builtin().iter() {
        o.push_str(&format!(
            "    {:<20} {} ({})\n",
            s.name, s.display_name, s.value_label
        ));
    }
    o.push_str("    (custom)             any metric declared in [metrics.NAME] of cxray.toml\n");
    let families = [
        (Family::Tickets, "Support tickets (entity = \"tickets\")"),
        (
            Family::Queue,
            "Contact-centre queue (entity = \"contacts\")",
        ),
        (
            Family::Churn,
            "Lifecycle events (entity = \"lifecycle\"; segments may come from customers)",
        ),
        (
            Family::Referrals,
            "Referrals and the customer base (entity = \"referrals\" and \"customers\")",
        ),
        (Family::Journey, "Journey events (entity = \"journey\")"),
    ];
    for (family, title) in families {
        o.push_str(&format!("\n  {title}:\n"));
        for d in OPERATIONAL_METRICS.iter().filter(|d| d.family == family) {
            o.push_str(&format!(
                "    {:<20} {} ({})\n",
                d.name, d.display_name, d.value_label
            ));
        }
    }
    o.push_str(
        "\nDefinitions, n and intervals of each: docs/metrics.md. Metrics of several kinds of \
         data need a cxray.toml with one source per entity.",
    );
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_is_listed_under_its_data() {
        let help = metrics_list();
        for d in OPERATIONAL_METRICS {
            assert!(
                help.lines().any(|l| l.trim_start().starts_with(d.name)),
                "{} missing from the help",
                d.name
            );
        }
        for name in ["nps", "csat", "ces", "stars", "task"] {
            assert!(help.contains(&format!("    {name} ")), "{name} missing");
        }
        // Ticket metrics sit under tickets, churn under lifecycle events.
        let tickets = help.find("Support tickets").unwrap();
        let queue = help.find("Contact-centre queue").unwrap();
        let fcr = help.find("    fcr ").unwrap();
        assert!(tickets < fcr && fcr < queue, "{help}");
        let churn = help.find("    churn ").unwrap();
        assert!(help.find("Lifecycle events").unwrap() < churn);
    }
}
