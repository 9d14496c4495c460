//! The core names no mechanism: `schedule`, `market`, `scenario`, `output`, `sim`, `sweep` and the
//! shared `agents` talk to mechanisms only through the `Mechanism` trait and the
//! registry in `mechanisms/mod.rs`, so adding a mechanism never edits them.

use std::path::{Path, PathBuf};

/// What a mechanism's names look like in code and prose (lower-cased): the dealer
/// market's and quote control's kinds, roles and modules. Extend it as mechanisms are added.
const MECHANISM_NAMES: &[&str] = &[
    "dealer_market",
    "dealermarket",
    "dealer market",
    "market_maker",
    "marketmaker",
    "market maker",
    "investor",
    "quote_control",
    "quotecontrol",
    "quote control",
    "auction",
    "bidder",
    "dealer_pairs",
    "dealerpairs",
    "dealer pair",
    "asset_user",
    "investor_user",
];

/// The core's source files.
fn core_files() -> Vec<PathBuf> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![src.join("schedule.rs"), src.join("agents.rs")];
    for dir in ["market", "scenario", "output", "sim", "sweep"] {
        rust_files_below(&src.join(dir), &mut files);
    }
    files
}

/// Every `.rs` file below `dir`, subfolders included, in name order.
fn rust_files_below(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("core module folder")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files_below(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Lines of `text` naming a mechanism, before its unit tests (whose sample RON is
/// data, not design).
fn naming_lines(text: &str) -> Vec<(usize, String)> {
    text.lines()
        .take_while(|line| line.trim() != "#[cfg(test)]")
        .enumerate()
        .filter(|(_, line)| {
            let lower = line.to_lowercase();
            MECHANISM_NAMES.iter().any(|name| lower.contains(name))
        })
        .map(|(i, line)| (i + 1, line.trim().to_string()))
        .collect()
}

#[test]
fn no_core_module_names_a_mechanism() {
    let files = core_files();
    assert!(files.len() >= 15, "found only {files:?}");
    let mut offences = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read source");
        for (line, content) in naming_lines(&text) {
            offences.push(format!("{}:{line}: {content}", file.display()));
        }
    }
    assert!(
        offences.is_empty(),
        "core modules name a mechanism (go through the Mechanism trait instead):\n{}",
        offences.join("\n")
    );
}

/// The check can fail: it sees a mechanism name in code, and ignores test modules.
#[test]
fn the_check_finds_a_mechanism_name() {
    let code = "use crate::mechanisms::dealer_market::Population;\n#[cfg(test)]\nmod tests { const X: &str = \"investors\"; }\n";
    assert_eq!(naming_lines(code).len(), 1);
    assert!(naming_lines("let market = MarketState::default();").is_empty());
}
