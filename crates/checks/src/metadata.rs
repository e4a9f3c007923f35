use pg_model::{CheckId, CheckInfo, Severity};
use serde::Deserialize;

const CHECKS: &str = include_str!("../checks.yaml");

#[derive(Deserialize)]
struct Entry {
    id: CheckId,
    severity: Severity,
    summary: String,
    explanation: String,
}

/// Every check's documentation, in catalog order.
pub fn checks_info() -> Vec<CheckInfo> {
    let entries: Vec<Entry> = pg_yaml::from_str(CHECKS).expect("checks.yaml is valid (tested)");
    entries
        .into_iter()
        .map(|e| CheckInfo {
            id: e.id,
            severity: e.severity,
            summary: e.summary,
            explanation: e.explanation,
        })
        .collect()
}

/// The long explanation of one check (`priorityguard catalog --explain ID`).
pub fn explanation(id: CheckId) -> CheckInfo {
    checks_info()
        .into_iter()
        .find(|c| c.id == id)
        .expect("every CheckId has an entry (tested)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_check_is_documented_once() {
        let info = checks_info();
        assert_eq!(info.len(), CheckId::ALL.len());
        for id in CheckId::ALL {
            assert_eq!(info.iter().filter(|c| c.id == id).count(), 1, "{id}");
            let info = explanation(id);
            assert_eq!(info.id, id);
            assert!(info.explanation.len() > 200, "{id}");
        }
    }
}
