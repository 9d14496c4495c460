//! Field paths into a scenario (`market.volatility`, `mechanisms[0].groups[1].count`): parsed
//! once, checked against the base scenario, and used to set one value in a copy of it.
//!
//! A scenario is plain serde data, so an override works on its serde form (a
//! `serde_json::Value` tree, which keeps enum variants as one-key objects) rather than on
//! the Rust types: the sweep knows no mechanism's fields, and every field any mechanism
//! adds can be swept without code here. The path scheme is the validation pass's (fields
//! as `.name`, list items as `[i]`, no leading dot), and, as in scenario files, enum
//! variants are transparent: `mechanisms[0]` is a `Kind(...)` variant, yet its fields
//! are reached as `mechanisms[0].field`; a variant holding one value (`Const(0.5)`,
//! `Every(96)`) is set by setting the field that holds it.

use std::fmt;

use serde_json::Value;

/// One step of a path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    /// A named field.
    Field(String),
    /// An item of a list.
    Index(usize),
}

/// A parsed field path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldPath {
    text: String,
    segments: Vec<Segment>,
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FieldPath {
    /// Parses `text`: field names (letters, digits, `_`) separated by `.`, each followed
    /// by any number of `[index]`.
    ///
    /// # Errors
    /// What is wrong and at which character (1-based) of the path.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut segments = Vec::new();
        let chars: Vec<char> = text.chars().collect();
        let mut i = 0;
        let at = |i: usize| format!("at character {} of `{text}`", i + 1);
        if chars.is_empty() {
            return Err("the path is empty".into());
        }
        loop {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            if i == start {
                return Err(format!("a field name is expected {}", at(i)));
            }
            segments.push(Segment::Field(chars[start..i].iter().collect()));
            while i < chars.len() && chars[i] == '[' {
                let open = i;
                i += 1;
                let digits = i;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
                if i == digits || i >= chars.len() || chars[i] != ']' {
                    return Err(format!(
                        "`[` must hold a list index, as in `[0]`, {}",
                        at(open)
                    ));
                }
                let index: String = chars[digits..i].iter().collect();
                if index.len() > 1 && index.starts_with('0') {
                    return Err(format!(
                        "write the index without leading zeros {}",
                        at(digits)
                    ));
                }
                let index = index
                    .parse()
                    .map_err(|_| format!("the index is too large {}", at(digits)))?;
                segments.push(Segment::Index(index));
                i += 1;
            }
            if i == chars.len() {
                break;
            }
            if chars[i] != '.' {
                return Err(format!("unexpected `{}` {}", chars[i], at(i)));
            }
            i += 1;
        }
        Ok(Self {
            text: text.to_owned(),
            segments,
        })
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether `problem_path` (a validation problem's path) is this path or lies under it.
    pub fn covers(&self, problem_path: &str) -> bool {
        problem_path
            .strip_prefix(&self.text)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
    }

    /// Checks that the path names a value in `tree` (the base scenario's serde form):
    /// every field exists and every index is in range.
    ///
    /// # Errors
    /// Which step fails and what is there instead (the fields it has, the list's length).
    pub fn check(&self, tree: &Value) -> Result<(), String> {
        self.walk(tree).map(|_| ())
    }

    /// Sets the value this path names in `tree` to `value`. A variant holding one value
    /// (`Const(0.5)`) takes `value` inside it when `value` is a plain value.
    ///
    /// # Errors
    /// As [`check`](Self::check).
    pub fn set(&self, tree: &mut Value, value: Value) -> Result<(), String> {
        // Walked once to explain a failure, once more to borrow the slot.
        self.walk(tree)?;
        let mut slot = tree;
        for segment in &self.segments {
            let next = match segment {
                Segment::Field(name) => unwrap_variants_mut(slot, name).get_mut(name.as_str()),
                Segment::Index(index) => unwrap_variants_mut(slot, "").get_mut(*index),
            };
            slot = next.ok_or_else(|| format!("`{}` changed while being set", self.text))?;
        }
        // A capitalised string names a variant (`"Off"`): it replaces the variant there.
        let names_variant = value
            .as_str()
            .is_some_and(|t| t.starts_with(|c: char| c.is_ascii_uppercase()));
        if is_plain(&value)
            && !names_variant
            && let Value::Object(map) = slot
            && map.len() == 1
            && is_variant(map)
            && let Some(inner) = map.values_mut().next()
            && is_plain(inner)
        {
            *inner = value;
            return Ok(());
        }
        *slot = value;
        Ok(())
    }

    fn walk<'a>(&self, tree: &'a Value) -> Result<&'a Value, String> {
        let mut here = tree;
        let mut walked = String::new();
        for segment in &self.segments {
            let shown = if walked.is_empty() {
                "the scenario".to_owned()
            } else {
                format!("`{walked}`")
            };
            here = match segment {
                Segment::Field(name) => match unwrap_variants(here, name) {
                    Value::Object(map) => match map.get(name) {
                        Some(value) => value,
                        None => {
                            return Err(format!(
                                "{shown} has no field `{name}`; its fields are {}",
                                list(map.keys())
                            ));
                        }
                    },
                    Value::Null => {
                        return Err(format!(
                            "{shown} is None in the base scenario, so it has no field `{name}`"
                        ));
                    }
                    other => {
                        return Err(format!(
                            "{shown} is {}, which has no fields",
                            describe(other)
                        ));
                    }
                },
                Segment::Index(index) => match unwrap_variants(here, "") {
                    Value::Array(items) => match items.get(*index) {
                        Some(item) => item,
                        None => {
                            return Err(match items.len() {
                                0 => format!("{shown} is an empty list, so it has no item {index}"),
                                1 => format!(
                                    "{shown} has 1 item (index 0), so it has no item {index}"
                                ),
                                n => format!(
                                    "{shown} has {n} items (indices 0 to {}), so it has no item {index}",
                                    n - 1
                                ),
                            });
                        }
                    },
                    other => {
                        return Err(format!("{shown} is {}, not a list", describe(other)));
                    }
                },
            };
            match segment {
                Segment::Field(name) => {
                    if !walked.is_empty() {
                        walked.push('.');
                    }
                    walked.push_str(name);
                }
                Segment::Index(index) => walked.push_str(&format!("[{index}]")),
            }
        }
        Ok(here)
    }
}

/// The enum variant (one-key object whose key is a variant name) `value` is, when it
/// does not itself have `field`: scenario files let such variants be transparent.
fn variant_to_skip<'a>(value: &'a Value, field: &str) -> Option<&'a String> {
    match value {
        Value::Object(map) if map.len() == 1 && is_variant(map) && !map.contains_key(field) => {
            map.keys().next()
        }
        _ => None,
    }
}

fn unwrap_variants<'a>(value: &'a Value, field: &str) -> &'a Value {
    match variant_to_skip(value, field) {
        Some(key) => unwrap_variants(&value[key.as_str()], field),
        None => value,
    }
}

fn unwrap_variants_mut<'a>(value: &'a mut Value, field: &str) -> &'a mut Value {
    match variant_to_skip(value, field).cloned() {
        // Indexing an object by a key it holds neither inserts nor panics.
        Some(key) => unwrap_variants_mut(&mut value[key.as_str()], field),
        None => value,
    }
}

/// Serde writes an enum variant as `{"Variant": …}`; struct fields are snake_case, so a
/// capitalised single key is a variant.
fn is_variant(map: &serde_json::Map<String, Value>) -> bool {
    map.keys()
        .next()
        .and_then(|k| k.chars().next())
        .is_some_and(|c| c.is_ascii_uppercase())
}

/// A number, string or boolean.
pub fn is_plain(value: &Value) -> bool {
    matches!(value, Value::Number(_) | Value::String(_) | Value::Bool(_))
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "None",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a structure",
    }
}

fn list<'a>(names: impl Iterator<Item = &'a String>) -> String {
    names
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tree() -> Value {
        json!({
            "seed": 1,
            "market": {"volatility": 0.1},
            "mechanisms": [{"DealerMarket": {
                "market_makers": [{"alpha": 1.1, "hedging": null}, {"alpha": 1.3, "hedging": null}],
                "investors": [{"Group": {"count": 10, "p_buy": {"Const": 0.5},
                    "p_trade": {"Uniform": {"min": 0.1, "max": 0.2}}}}],
            }}],
        })
    }

    #[test]
    fn paths_parse_into_fields_and_indices() {
        let path = FieldPath::parse("mechanisms[0].market_makers[12].alpha").unwrap();
        assert_eq!(
            path.segments,
            [
                Segment::Field("mechanisms".into()),
                Segment::Index(0),
                Segment::Field("market_makers".into()),
                Segment::Index(12),
                Segment::Field("alpha".into()),
            ]
        );
        for bad in [
            "",
            ".a",
            "a.",
            "a[",
            "a[x]",
            "a[1",
            "a..b",
            "a b",
            "a[99999999999999999999]",
            "a[00]",
            "a[01]",
        ] {
            assert!(FieldPath::parse(bad).is_err(), "`{bad}` parsed");
        }
    }

    #[test]
    fn setting_goes_through_variants() {
        let mut t = tree();
        FieldPath::parse("mechanisms[0].market_makers[1].alpha")
            .unwrap()
            .set(&mut t, json!(1.7))
            .unwrap();
        assert_eq!(
            t["mechanisms"][0]["DealerMarket"]["market_makers"][1]["alpha"],
            1.7
        );
        // A one-value variant takes the value inside it.
        FieldPath::parse("mechanisms[0].investors[0].p_buy")
            .unwrap()
            .set(&mut t, json!(0.6))
            .unwrap();
        let group = &t["mechanisms"][0]["DealerMarket"]["investors"][0]["Group"];
        assert_eq!(group["p_buy"], json!({"Const": 0.6}));
        FieldPath::parse("mechanisms[0].investors[0].p_trade.max")
            .unwrap()
            .set(&mut t, json!(0.3))
            .unwrap();
        let group = &t["mechanisms"][0]["DealerMarket"]["investors"][0]["Group"];
        assert_eq!(group["p_trade"]["Uniform"]["max"], 0.3);
        // A variant's name replaces the variant, data and all.
        FieldPath::parse("mechanisms[0].investors[0].p_buy")
            .unwrap()
            .set(&mut t, json!("Off"))
            .unwrap();
        let group = &t["mechanisms"][0]["DealerMarket"]["investors"][0]["Group"];
        assert_eq!(group["p_buy"], json!("Off"));
    }

    #[test]
    fn bad_paths_say_what_is_there() {
        let t = tree();
        let err = |p: &str| FieldPath::parse(p).unwrap().check(&t).unwrap_err();
        assert_eq!(
            err("mechanisms[0].market_makers[9].alpha"),
            "`mechanisms[0].market_makers` has 2 items (indices 0 to 1), so it has no item 9"
        );
        assert_eq!(
            err("market.volatilty"),
            "`market` has no field `volatilty`; its fields are `volatility`"
        );
        assert!(err("mechanisms[0].market_makers[0].hedging.rate").contains("is None"));
        assert!(err("seed.x").contains("a number, which has no fields"));
        assert!(err("market[0]").contains("not a list"));
        assert!(err("mechanisms[3]").contains("has 1 item (index 0)"));
    }

    #[test]
    fn covers_is_by_whole_segments() {
        let path = FieldPath::parse("market.volatility").unwrap();
        assert!(path.covers("market.volatility"));
        assert!(path.covers("market.volatility.x"));
        assert!(!path.covers("market.volatility_floor"));
        assert!(!path.covers("market"));
    }
}
