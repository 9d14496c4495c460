//! The docs stay true: every output column is in the README, every scenario field in the
//! scenario reference.

use std::collections::BTreeSet;
use std::path::Path;

use dealersim::scenario::parse_scenario;

/// A bundled scenario of each mechanism kind, whose tables and fields the docs must cover.
const MECHANISM_SCENARIOS: &[&str] = &[
    "scenarios/paper.ron",
    "scenarios/quote_control/agents.ron",
    "scenarios/dealer_pairs.ron",
];

fn read(file: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(file)).expect("doc file")
}

/// Every table every bundled mechanism declares (the default scenario has them all).
#[test]
fn readme_documents_every_output_column() {
    let readme = read("README.md");
    let mut tables = Vec::new();
    // One scenario per mechanism kind.
    for file in MECHANISM_SCENARIOS {
        let text = read(file);
        let scenario = parse_scenario(&text, Path::new(file)).expect("scenario parses");
        for config in &scenario.mechanisms {
            let mechanism = config.as_mechanism();
            tables.extend(mechanism.tables(&scenario).into_iter().map(|t| t.spec));
            tables.push(mechanism.summary_table());
        }
    }
    // The auction's tables come from `dealersim auction`, not from a scenario.
    {
        use dealersim::mechanisms::auction::report::{FillRow, SymbolRow};
        use dealersim::output::row::TableRow;
        tables.push(SymbolRow::TABLE);
        tables.push(FillRow::TABLE);
    }
    assert!(tables.len() >= 8, "{tables:?}");
    // Every mechanism kind has a scenario above, so none of its tables is missed.
    let covered: BTreeSet<&str> = MECHANISM_SCENARIOS
        .iter()
        .flat_map(|file| {
            parse_scenario(&read(file), Path::new(file))
                .expect("scenario parses")
                .mechanisms
                .iter()
                .map(|m| m.as_mechanism().kind())
                .collect::<Vec<_>>()
        })
        .collect();
    for kind in dealersim::mechanisms::KINDS {
        assert!(
            covered.contains(kind),
            "no scenario in MECHANISM_SCENARIOS runs {kind}"
        );
    }
    for column in tables.iter().flat_map(|t| t.columns) {
        let row = format!("| `{}` | {} | {} |", column.name, column.ty, column.doc);
        assert!(readme.contains(&row), "README.md lacks the row:\n{row}");
    }
}

#[test]
fn scenario_reference_documents_every_field() {
    let reference = read("docs/scenarios.md");
    // The resolved scenarios write out every field, so their field names are the schema's.
    let resolved: Vec<String> = MECHANISM_SCENARIOS
        .iter()
        .map(|file| {
            let text = read(file);
            let scenario = parse_scenario(&text, Path::new(file)).expect("scenario parses");
            scenario.to_ron().expect("serialise")
        })
        .collect();
    let fields: BTreeSet<&str> = resolved
        .iter()
        .flat_map(|r| r.lines())
        .filter_map(|line| line.trim_start().split_once(':').map(|(name, _)| name))
        .filter(|name| name.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .collect();
    assert!(fields.len() > 35, "found only {fields:?}");
    for field in fields {
        assert!(
            reference.contains(&format!("`{field}`")),
            "docs/scenarios.md does not document `{field}`"
        );
    }
}
