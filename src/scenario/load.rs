//! Reading a scenario file: RON parsing with line/column and field path on every error,
//! then validation, all reported together in one [`ScenarioError`].

use std::fmt;
use std::path::{Path, PathBuf};

use ron::extensions::Extensions;

use super::Scenario;
use super::locate::{FieldLocations, SourcePosition};
use super::validate::{Problem, validate};

/// RON extensions enabled for every scenario: `implicit_some` lets `field: (...)` stand
/// for `field: Some((...))`, and `unwrap_variant_newtypes` lets
/// `AverageYield(weight: 0.1)` stand for `AverageYield((weight: 0.1))`.
pub fn extensions() -> Extensions {
    Extensions::IMPLICIT_SOME | Extensions::UNWRAP_VARIANT_NEWTYPES
}

/// One located problem in a scenario file.
#[derive(Clone, Debug, PartialEq)]
pub struct LocatedProblem {
    /// Where the field (or, for a defaulted field, its enclosing value) is written.
    pub position: Option<SourcePosition>,
    /// Whether `position` is the field itself (false: an ancestor, the field took its default).
    pub exact: bool,
    /// The problem with its field path.
    pub problem: Problem,
}

/// Why a scenario could not be used. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("cannot read scenario `{}`: {source}", path.display())]
    Io {
        /// The scenario path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Malformed RON, a wrong type, an unknown or missing field.
    #[error("{}", render_parse("scenario", path, *position, field_path, message))]
    Parse {
        /// The scenario path.
        path: PathBuf,
        /// Where the parser stopped.
        position: SourcePosition,
        /// Field path where the error occurred ("" at the top level).
        field_path: String,
        /// The parser's message.
        message: String,
    },
    /// The file parsed but some values are out of range or inconsistent.
    #[error("{}", render_invalid("scenario", path, problems))]
    Invalid {
        /// The scenario path.
        path: PathBuf,
        /// Every problem found, in field order.
        problems: Vec<LocatedProblem>,
    },
}

/// "cannot parse {what} `path`" and where: the parse error of any input file.
pub fn render_parse(
    what: &str,
    path: &Path,
    position: SourcePosition,
    field_path: &str,
    message: &str,
) -> String {
    let field = if field_path.is_empty() {
        String::new()
    } else {
        format!(" at `{field_path}`")
    };
    format!(
        "cannot parse {what} `{}`\n  --> {}:{}:{}{field}: {message}",
        path.display(),
        path.display(),
        position.line,
        position.column
    )
}

/// "invalid {what} `path`: N problems" and each at its place: the validation error of
/// any input file.
pub fn render_invalid(what: &str, path: &Path, problems: &[LocatedProblem]) -> String {
    let mut out = format!(
        "invalid {what} `{}`: {} problem{}",
        path.display(),
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
    for located in problems {
        let place = match located.position {
            Some(p) if located.exact => format!("{}:{}:{}", path.display(), p.line, p.column),
            Some(p) => format!("{}:{}:{} (default)", path.display(), p.line, p.column),
            None => path.display().to_string(),
        };
        out.push_str(&format!("\n  --> {place}  {}", located.problem));
    }
    out
}

impl fmt::Display for LocatedProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.problem)
    }
}

/// Reads, parses and validates the scenario at `path`.
///
/// # Errors
/// [`ScenarioError`] naming the file, the line and column, and the field path of every
/// problem found.
pub fn load_scenario(path: &Path) -> Result<Scenario, ScenarioError> {
    load_scenario_with_warnings(path).map(|(scenario, _)| scenario)
}

/// Reads, parses and validates the scenario at `path` like [`load_scenario`], and also
/// returns its warnings, each rendered as `file:line:column  field: message`.
///
/// # Errors
/// As [`load_scenario`].
pub fn load_scenario_with_warnings(path: &Path) -> Result<(Scenario, Vec<String>), ScenarioError> {
    let source = read_input(path).map_err(|source| ScenarioError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let scenario = parse_scenario(&source, path)?;
    check(&scenario, &source, path)?;
    let warnings = super::validate::warnings(&scenario);
    let rendered = if warnings.is_empty() {
        Vec::new()
    } else {
        let locations = FieldLocations::scan(&source);
        warnings
            .into_iter()
            .map(|problem| {
                let place = match locations.nearest(&problem.path) {
                    Some((p, _)) => format!("{}:{}:{}", path.display(), p.line, p.column),
                    None => path.display().to_string(),
                };
                format!("{place}  {problem}")
            })
            .collect()
    };
    Ok((scenario, rendered))
}

/// The most bytes an input file (scenario, experiment, sweep) may have. Real ones are a
/// few kilobytes; the cap keeps `dealersim run /dev/zero` from reading until memory
/// runs out.
pub const MAX_INPUT_BYTES: u64 = 16 * 1024 * 1024;

/// Reads an input file as UTF-8 text, refusing one over [`MAX_INPUT_BYTES`] (a device
/// or pipe that never ends included) with an `InvalidData` error that says so.
///
/// # Errors
/// The OS error, or `InvalidData` for a file too large or not UTF-8.
pub fn read_input(path: &Path) -> std::io::Result<String> {
    use std::io::Read as _;
    let file = std::fs::File::open(path)?;
    let mut text = String::new();
    file.take(MAX_INPUT_BYTES + 1).read_to_string(&mut text)?;
    if text.len() as u64 > MAX_INPUT_BYTES {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "more than {} MiB; an input file is a few kilobytes of RON",
                MAX_INPUT_BYTES >> 20
            ),
        ));
    }
    Ok(text)
}

/// `source` without a leading UTF-8 byte-order mark.
pub fn without_bom(source: &str) -> &str {
    source.strip_prefix('\u{feff}').unwrap_or(source)
}

/// Where and why RON parsing stopped.
#[derive(Clone, Debug, PartialEq)]
pub struct RonFailure {
    /// Where the parser stopped.
    pub position: SourcePosition,
    /// Field path where it stopped ("" at the top level).
    pub field_path: String,
    /// The parser's message.
    pub message: String,
}

/// A deserialisation error's path in the validation pass's scheme: fields as `.name`,
/// list items as `[i]`; enum variants (a mechanism's kind, `Const`) are not part of a
/// path, and segments serde could not name are left out. Deserialising from a JSON tree
/// (as sweeps do) shows variants as map keys: `variants_as_keys` leaves out the keys
/// that start with a capital letter, as variant names do and field names never do.
pub fn field_path(path: &serde_path_to_error::Path, variants_as_keys: bool) -> String {
    let mut out = String::new();
    for segment in path {
        match segment {
            serde_path_to_error::Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            serde_path_to_error::Segment::Map { key } => {
                if variants_as_keys && key.starts_with(|c: char| c.is_ascii_uppercase()) {
                    continue;
                }
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            serde_path_to_error::Segment::Enum { .. } | serde_path_to_error::Segment::Unknown => {}
        }
    }
    out
}

/// Parses RON `source` into any serde type with the scenario extensions on, keeping the
/// line, column and field path of a failure (shared by scenarios, experiments and
/// benchmark rungs).
///
/// # Errors
/// [`RonFailure`] where parsing stopped.
pub fn parse_ron<T: serde::de::DeserializeOwned>(source: &str) -> Result<T, RonFailure> {
    // A byte-order mark (as some Windows editors write) is not part of the document.
    let source = without_bom(source);
    let options = ron::Options::default().with_default_extension(extensions());
    let failure = |span: ron::error::Span, field_path: String, message: String| RonFailure {
        position: SourcePosition {
            line: span.start.line,
            column: span.start.col,
        },
        field_path,
        message,
    };
    let mut deserializer = ron::Deserializer::from_str_with_options(source, &options)
        .map_err(|e| failure(e.span, String::new(), e.code.to_string()))?;
    let value: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let field_path = field_path(e.path(), false);
        let spanned = deserializer.span_error(e.into_inner());
        failure(spanned.span, field_path, spanned.code.to_string())
    })?;
    deserializer.end().map_err(|e| {
        let spanned = deserializer.span_error(e);
        failure(spanned.span, String::new(), spanned.code.to_string())
    })?;
    Ok(value)
}

/// Parses RON `source` (named `path` in errors) without validating it.
///
/// # Errors
/// [`ScenarioError::Parse`] with the position and field path where parsing stopped.
pub fn parse_scenario(source: &str, path: &Path) -> Result<Scenario, ScenarioError> {
    parse_ron(source).map_err(|f| ScenarioError::Parse {
        path: path.to_path_buf(),
        position: f.position,
        message: advice_for_moved_field(&f)
            .or_else(|| advice_for_long_form(source, &f))
            .unwrap_or(f.message),
        field_path: f.field_path,
    })
}

/// The message for RON's long forms, which the always-on extensions refuse:
/// `Some((…))` and `Variant((…))` stop the parser just inside the double parentheses.
pub fn advice_for_long_form(source: &str, failure: &RonFailure) -> Option<String> {
    let line = without_bom(source)
        .lines()
        .nth(failure.position.line.checked_sub(1)?)?;
    // The parser stops at the inner parenthesis: look at the text up to and including it.
    let before: String = line.chars().take(failure.position.column).collect();
    let before = before.trim_end();
    if !before.ends_with("((") {
        return None;
    }
    let form = if before.trim_end_matches('(').ends_with("Some") {
        "write `field: (...)` for `field: Some((...))`"
    } else {
        "write `Variant(field: ...)` for `Variant((field: ...))`"
    };
    Some(format!(
        "{}: the long form is not accepted; {form} (docs/scenarios.md)",
        failure.message
    ))
}

/// The message for a field of an old-style file that now lives in a mechanism (the
/// registry says where): parsing stops at the field as unknown, and the advice says how
/// to write it now. Used for scenarios, experiment files and benchmark rungs.
pub fn advice_for_moved_field(failure: &RonFailure) -> Option<String> {
    if !failure.message.contains("Unexpected field") {
        return None;
    }
    // Inside an experiment or a benchmark rung the scenario sits under `scenario`.
    let path = failure.field_path.as_str();
    let path = path.strip_prefix("scenario.").unwrap_or(path);
    crate::mechanisms::moved_field_advice(path)
        .map(|advice| format!("{}: {advice}", failure.message))
}

/// Validates a parsed scenario, locating each problem in `source`.
///
/// # Errors
/// [`ScenarioError::Invalid`] listing every problem.
pub fn check(scenario: &Scenario, source: &str, path: &Path) -> Result<(), ScenarioError> {
    let problems = validate(scenario);
    if problems.is_empty() {
        return Ok(());
    }
    Err(located(path, source, problems))
}

/// `problems` of the scenario file at `path` (text `source`), each located at its field
/// (or its nearest written parent): the error the CLI prints.
pub fn located(path: &Path, source: &str, problems: Vec<Problem>) -> ScenarioError {
    ScenarioError::Invalid {
        path: path.to_path_buf(),
        problems: locate_problems(source, problems),
    }
}

/// Each of `problems` located in `source` at its field (or its nearest written parent,
/// marked not exact).
pub fn locate_problems(source: &str, problems: Vec<Problem>) -> Vec<LocatedProblem> {
    let locations = FieldLocations::scan(source);
    problems
        .into_iter()
        .map(|problem| {
            let found = locations.nearest(&problem.path);
            LocatedProblem {
                position: found.map(|(p, _)| p),
                exact: found.is_some_and(|(_, exact)| exact),
                problem,
            }
        })
        .collect()
}
