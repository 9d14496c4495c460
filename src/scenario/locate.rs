//! Where each field of a RON document is written: field path -> line and column.
//!
//! Serde forgets where a value came from once it has been deserialized, so the semantic
//! validation pass can only name a problem by its field path (`mechanisms[0].groups[3].rate.max`).
//! This module re-reads the source text with a small, forgiving scanner and records where
//! each value starts, so those paths can be turned back into a line and column.
//!
//! The scanner only understands RON's shape (parentheses, lists, maps, named fields), not
//! its types, and it is deliberately lenient: it runs on text that `ron` has already
//! accepted, but must still never panic or overflow the stack on anything else.

use std::collections::HashMap;

/// Nesting deeper than this is skipped rather than descended into, so hostile input
/// cannot exhaust the stack; no real scenario comes anywhere near it.
const MAX_DEPTH: usize = 128;

/// A 1-based line and column (in chars) in a source file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SourcePosition {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column, counted in chars rather than bytes.
    pub column: usize,
}

/// Positions of every value in a RON document, keyed by field path.
///
/// Paths use the scheme of the validation pass: `.name` for named fields (no leading dot
/// at the root), `[i]` for list items and positional tuple items, `[key]` for map entries
/// (string and char keys without their quotes). A parenthesised group with exactly one
/// positional item (`Some(x)`, `Const(0.5)`) is transparent: its item shares its path.
/// Each path maps to the first token of its value; the root value has the path `""`.
#[derive(Clone, Debug, Default)]
pub struct FieldLocations {
    positions: HashMap<String, SourcePosition>,
}

impl FieldLocations {
    /// Scans `source`. Never panics.
    ///
    /// Malformed or truncated text yields whatever could be located before the scanner
    /// lost track of the structure.
    #[must_use]
    pub fn scan(source: &str) -> Self {
        let source = super::load::without_bom(source);
        let chars: Vec<char> = source.chars().collect();
        let tokens = Lexer::new(&chars).tokens();
        let mut parser = Parser::new(&chars, &tokens);
        parser.document();
        Self {
            positions: parser.positions,
        }
    }

    /// Position of exactly this path, if written in the file.
    #[must_use]
    pub fn get(&self, path: &str) -> Option<SourcePosition> {
        self.positions.get(path).copied()
    }

    /// Position of `path`, or of its longest written ancestor when the field itself is not
    /// in the file (it took its default). The bool says whether the path itself was found.
    ///
    /// Ancestors are found by stripping trailing `.name` / `[i]` segments; the root (empty
    /// path `""`) maps to the position of the top-level value.
    #[must_use]
    pub fn nearest(&self, path: &str) -> Option<(SourcePosition, bool)> {
        if let Some(position) = self.get(path) {
            return Some((position, true));
        }
        let mut end = path.len();
        while end > 0 {
            // Cutting at every `.` or `[` may also try a cut inside a map key that itself
            // contains one; such a prefix is never recorded, so it is harmlessly skipped.
            let cut = path
                .get(..end)
                .and_then(|prefix| prefix.rfind(['.', '[']))
                .unwrap_or(0);
            if let Some(position) = path.get(..cut).and_then(|ancestor| self.get(ancestor)) {
                return Some((position, false));
            }
            end = cut;
        }
        None
    }
}

/// 1-based line/column of a byte offset in `source` (helper that other code uses to turn
/// byte offsets from parser errors into positions); offsets past the end clamp to the end.
///
/// An offset inside a multi-byte char is treated as the start of that char.
#[must_use]
pub fn position_of_offset(source: &str, offset: usize) -> SourcePosition {
    let end = source.floor_char_boundary(offset);
    let mut position = SourcePosition { line: 1, column: 1 };
    for c in source.get(..end).unwrap_or(source).chars() {
        advance(&mut position, c);
    }
    position
}

/// Moves `position` past `c`. Shared by the scanner and [`position_of_offset`] so both
/// agree on what a line and a column are (`\r` simply counts as a column).
fn advance(position: &mut SourcePosition, c: char) {
    if c == '\n' {
        position.line += 1;
        position.column = 1;
    } else {
        position.column += 1;
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Kind {
    Open(char),
    Close(char),
    Colon,
    Comma,
    Hash,
    Bang,
    Ident(String),
    /// A string or char literal, with its quotes removed and simple escapes decoded so a
    /// map key reads the way the deserialized key will be printed.
    Text(String),
    /// Numbers and anything else that is a value by itself.
    Other,
}

#[derive(Clone, Debug)]
struct Token {
    kind: Kind,
    position: SourcePosition,
    /// Char indices of the token's source text, for map keys that are not plain literals.
    start: usize,
    end: usize,
}

struct Lexer<'a> {
    chars: &'a [char],
    index: usize,
    position: SourcePosition,
}

impl<'a> Lexer<'a> {
    fn new(chars: &'a [char]) -> Self {
        Self {
            chars,
            index: 0,
            position: SourcePosition { line: 1, column: 1 },
        }
    }

    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.index + ahead).copied()
    }

    fn bump(&mut self) {
        if let Some(&c) = self.chars.get(self.index) {
            advance(&mut self.position, c);
            self.index += 1;
        }
    }

    fn tokens(mut self) -> Vec<Token> {
        let mut tokens = Vec::new();
        while let Some(c) = self.peek(0) {
            if c.is_whitespace() {
                self.bump();
            } else if c == '/' && self.peek(1) == Some('/') {
                while self.peek(0).is_some_and(|c| c != '\n') {
                    self.bump();
                }
            } else if c == '/' && self.peek(1) == Some('*') {
                self.block_comment();
            } else {
                let position = self.position;
                let start = self.index;
                let kind = self.token(c);
                tokens.push(Token {
                    kind,
                    position,
                    start,
                    end: self.index,
                });
            }
        }
        tokens
    }

    /// RON block comments nest, unlike Rust's `/* */` in most other formats.
    fn block_comment(&mut self) {
        let mut depth = 0usize;
        while let Some(c) = self.peek(0) {
            if c == '/' && self.peek(1) == Some('*') {
                depth += 1;
                self.bump();
                self.bump();
            } else if c == '*' && self.peek(1) == Some('/') {
                depth = depth.saturating_sub(1);
                self.bump();
                self.bump();
                if depth == 0 {
                    return;
                }
            } else {
                self.bump();
            }
        }
    }

    /// Reads one token starting at `c`; always consumes at least one char.
    fn token(&mut self, c: char) -> Kind {
        match c {
            '(' | '[' | '{' => {
                self.bump();
                Kind::Open(c)
            }
            ')' | ']' | '}' => {
                self.bump();
                Kind::Close(c)
            }
            ':' => {
                self.bump();
                Kind::Colon
            }
            ',' => {
                self.bump();
                Kind::Comma
            }
            '#' => {
                self.bump();
                Kind::Hash
            }
            '!' => {
                self.bump();
                Kind::Bang
            }
            '"' => {
                self.bump();
                Kind::Text(self.quoted('"'))
            }
            '\'' => {
                self.bump();
                Kind::Text(self.quoted('\''))
            }
            'r' if self.raw_string_ahead(1) => {
                self.bump();
                Kind::Text(self.raw_string())
            }
            'b' if matches!(self.peek(1), Some('"' | '\'')) => {
                let quote = self.peek(1).unwrap_or('"');
                self.bump();
                self.bump();
                Kind::Text(self.quoted(quote))
            }
            'b' if self.peek(1) == Some('r') && self.raw_string_ahead(2) => {
                self.bump();
                self.bump();
                Kind::Text(self.raw_string())
            }
            'r' if self.peek(1) == Some('#') && self.peek(2).is_some_and(is_ident_start) => {
                self.bump();
                self.bump();
                // RON's raw identifiers may also contain `.`, `+` and `-`.
                Kind::Ident(
                    self.take_while(|c| is_ident_continue(c) || matches!(c, '.' | '+' | '-')),
                )
            }
            c if is_ident_start(c) => Kind::Ident(self.take_while(is_ident_continue)),
            c if c.is_ascii_digit()
                || (matches!(c, '+' | '-' | '.')
                    && self
                        .peek(1)
                        .is_some_and(|n| n.is_alphanumeric() || n == '.')) =>
            {
                self.number();
                Kind::Other
            }
            _ => {
                self.bump();
                Kind::Other
            }
        }
    }

    fn take_while(&mut self, keep: impl Fn(char) -> bool) -> String {
        let mut text = String::new();
        while let Some(c) = self.peek(0).filter(|&c| keep(c)) {
            text.push(c);
            self.bump();
        }
        text
    }

    /// Numbers in every RON spelling: `-3`, `+1.0`, `1e-5`, `0x1F`, `1_000`, `-inf`.
    fn number(&mut self) {
        let mut hex = false;
        let mut previous = '\0';
        let mut length = 0usize;
        while let Some(c) = self.peek(0) {
            let exponent_sign =
                matches!(c, '+' | '-') && length > 0 && matches!(previous, 'e' | 'E') && !hex;
            let sign_first = length == 0 && matches!(c, '+' | '-');
            if !(c.is_alphanumeric() || matches!(c, '_' | '.') || exponent_sign || sign_first) {
                break;
            }
            if matches!(c, 'x' | 'X') && previous == '0' {
                hex = true;
            }
            previous = c;
            length += 1;
            self.bump();
        }
    }

    /// Whether `r`, `#`*, `"` starts `ahead` chars from here (the `r` already skipped).
    fn raw_string_ahead(&self, ahead: usize) -> bool {
        let mut offset = ahead;
        while self.peek(offset) == Some('#') {
            offset += 1;
        }
        self.peek(offset) == Some('"')
    }

    /// Reads `#`*`"`...`"``#`* after the `r`; unterminated text runs to the end.
    fn raw_string(&mut self) -> String {
        let mut hashes = 0usize;
        while self.peek(0) == Some('#') {
            hashes += 1;
            self.bump();
        }
        self.bump();
        let mut text = String::new();
        while let Some(c) = self.peek(0) {
            if c == '"' && (1..=hashes).all(|k| self.peek(k) == Some('#')) {
                for _ in 0..=hashes {
                    self.bump();
                }
                break;
            }
            text.push(c);
            self.bump();
        }
        text
    }

    /// Reads the rest of a quoted literal after its opening `quote`.
    fn quoted(&mut self, quote: char) -> String {
        let mut text = String::new();
        while let Some(c) = self.peek(0) {
            if c == quote {
                self.bump();
                break;
            }
            // A char literal never spans lines; stopping keeps a stray `'` in malformed
            // text from swallowing the rest of the document.
            if quote == '\'' && c == '\n' {
                break;
            }
            self.bump();
            if c == '\\' {
                self.escape(&mut text);
            } else {
                text.push(c);
            }
        }
        text
    }

    /// Decodes the escape after a backslash; anything unusual is kept as written.
    fn escape(&mut self, text: &mut String) {
        let Some(c) = self.peek(0) else {
            text.push('\\');
            return;
        };
        let simple = match c {
            'n' => Some('\n'),
            't' => Some('\t'),
            'r' => Some('\r'),
            '0' => Some('\0'),
            '\\' | '"' | '\'' => Some(c),
            _ => None,
        };
        if let Some(decoded) = simple {
            text.push(decoded);
            self.bump();
            return;
        }
        if c == 'u' && self.peek(1) == Some('{') {
            let digits: String = (2..10)
                .map_while(|k| self.peek(k).filter(char::is_ascii_hexdigit))
                .collect();
            if self.peek(2 + digits.len()) == Some('}')
                && let Some(decoded) = u32::from_str_radix(&digits, 16)
                    .ok()
                    .and_then(char::from_u32)
            {
                text.push(decoded);
                for _ in 0..digits.len() + 3 {
                    self.bump();
                }
                return;
            }
        }
        if c == 'x'
            && let (Some(high), Some(low)) = (self.peek(1), self.peek(2))
            && let (Some(high), Some(low)) = (high.to_digit(16), low.to_digit(16))
            && let Some(decoded) = char::from_u32(high * 16 + low)
        {
            text.push(decoded);
            for _ in 0..3 {
                self.bump();
            }
            return;
        }
        text.push('\\');
    }
}

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

fn is_ident_continue(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

struct Parser<'a> {
    chars: &'a [char],
    tokens: &'a [Token],
    /// For each opening token, the index of the closing token that ends it. Any closer
    /// ends the innermost group, so mismatched brackets still give a consistent shape.
    closing: Vec<Option<usize>>,
    index: usize,
    positions: HashMap<String, SourcePosition>,
}

impl<'a> Parser<'a> {
    fn new(chars: &'a [char], tokens: &'a [Token]) -> Self {
        let mut closing = vec![None; tokens.len()];
        let mut open = Vec::new();
        for (index, token) in tokens.iter().enumerate() {
            match token.kind {
                Kind::Open(_) => open.push(index),
                Kind::Close(_) => {
                    if let Some(start) = open.pop()
                        && let Some(slot) = closing.get_mut(start)
                    {
                        *slot = Some(index);
                    }
                }
                _ => {}
            }
        }
        Self {
            chars,
            tokens,
            closing,
            index: 0,
            positions: HashMap::new(),
        }
    }

    fn kind_at(&self, index: usize) -> Option<&'a Kind> {
        self.tokens.get(index).map(|token| &token.kind)
    }

    /// Index just past the group opened at `open` (the end of input if it never closes).
    fn after_group(&self, open: usize) -> usize {
        self.closing
            .get(open)
            .copied()
            .flatten()
            .map_or(self.tokens.len(), |close| close + 1)
    }

    fn document(&mut self) {
        // `#![enable(...)]` extension attributes come before the value.
        while self.kind_at(self.index) == Some(&Kind::Hash) {
            self.index += 1;
            if self.kind_at(self.index) == Some(&Kind::Bang) {
                self.index += 1;
            }
            if self.kind_at(self.index) == Some(&Kind::Open('[')) {
                self.index = self.after_group(self.index);
            }
        }
        self.value(Some(""), 0);
    }

    /// Reads one value, recording its start under `path` (`None` for map keys).
    ///
    /// Consumes at least one token unless it stands at a closer, a comma or the end, so
    /// the loops that call it always make progress.
    fn value(&mut self, path: Option<&str>, depth: usize) {
        let Some(token) = self.tokens.get(self.index) else {
            return;
        };
        match token.kind {
            Kind::Close(_) | Kind::Comma => return,
            Kind::Colon => {
                self.index += 1;
                return;
            }
            _ => {}
        }
        if let Some(path) = path {
            // The first spelling wins: a transparent `Some(x)` records its own position
            // before `x` is read under the same path.
            self.positions
                .entry(path.to_owned())
                .or_insert(token.position);
        }
        if depth >= MAX_DEPTH {
            self.skip_value();
            return;
        }
        match token.kind {
            Kind::Ident(_) => {
                self.index += 1;
                if self.kind_at(self.index) == Some(&Kind::Open('(')) {
                    self.index += 1;
                    self.group(path, depth + 1);
                }
            }
            Kind::Open('(') => {
                self.index += 1;
                self.group(path, depth + 1);
            }
            Kind::Open('[') => {
                self.index += 1;
                self.list(path, depth + 1);
            }
            Kind::Open('{') => {
                self.index += 1;
                self.map(path, depth + 1);
            }
            _ => self.index += 1,
        }
    }

    /// Steps over one value without descending, for nesting beyond [`MAX_DEPTH`].
    fn skip_value(&mut self) {
        if matches!(self.kind_at(self.index), Some(Kind::Ident(_))) {
            self.index += 1;
            if self.kind_at(self.index) != Some(&Kind::Open('(')) {
                return;
            }
        }
        if matches!(self.kind_at(self.index), Some(Kind::Open(_))) {
            self.index = self.after_group(self.index);
        } else {
            self.index += 1;
        }
    }

    /// Number of comma-separated items in the group opened at `open`. Needed before the
    /// first item is read, since a lone positional item is transparent.
    fn count_items(&self, open: usize) -> usize {
        let mut index = open + 1;
        let mut count = 0;
        let mut in_item = false;
        while let Some(kind) = self.kind_at(index) {
            match kind {
                Kind::Close(_) => break,
                Kind::Comma => {
                    count += usize::from(in_item);
                    in_item = false;
                    index += 1;
                }
                Kind::Open(_) => {
                    in_item = true;
                    index = self.after_group(index);
                }
                _ => {
                    in_item = true;
                    index += 1;
                }
            }
        }
        count + usize::from(in_item)
    }

    /// Contents of `( ... )` after the opening parenthesis: named fields, positional items
    /// or both (only malformed text mixes them).
    fn group(&mut self, path: Option<&str>, depth: usize) {
        let items = self.count_items(self.index.saturating_sub(1));
        let mut position = 0usize;
        while let Some(kind) = self.kind_at(self.index) {
            match kind {
                Kind::Close(')') => {
                    self.index += 1;
                    return;
                }
                Kind::Close(_) => return,
                Kind::Comma => self.index += 1,
                Kind::Ident(name) if self.kind_at(self.index + 1) == Some(&Kind::Colon) => {
                    self.index += 2;
                    let child = path.map(|path| field_path(path, name));
                    self.value(child.as_deref(), depth);
                }
                _ => {
                    let child = path.map(|path| {
                        if items == 1 {
                            path.to_owned()
                        } else {
                            format!("{path}[{position}]")
                        }
                    });
                    position += 1;
                    self.value(child.as_deref(), depth);
                }
            }
        }
    }

    /// Contents of `[ ... ]` after the opening bracket.
    fn list(&mut self, path: Option<&str>, depth: usize) {
        let mut position = 0usize;
        while let Some(kind) = self.kind_at(self.index) {
            match kind {
                Kind::Close(']') => {
                    self.index += 1;
                    return;
                }
                Kind::Close(_) => return,
                Kind::Comma => self.index += 1,
                _ => {
                    let child = path.map(|path| format!("{path}[{position}]"));
                    position += 1;
                    self.value(child.as_deref(), depth);
                }
            }
        }
    }

    /// Contents of `{ ... }` after the opening brace.
    fn map(&mut self, path: Option<&str>, depth: usize) {
        while let Some(kind) = self.kind_at(self.index) {
            match kind {
                Kind::Close('}') => {
                    self.index += 1;
                    return;
                }
                Kind::Close(_) => return,
                Kind::Comma => self.index += 1,
                _ => {
                    let key_start = self.index;
                    self.value(None, depth);
                    let key = self.key_text(key_start, self.index);
                    if self.kind_at(self.index) != Some(&Kind::Colon) {
                        continue;
                    }
                    self.index += 1;
                    let child = path.map(|path| format!("{path}[{key}]"));
                    self.value(child.as_deref(), depth);
                }
            }
        }
    }

    /// How a map key appears in a path: a string or char without quotes, anything else
    /// (numbers, identifiers, tuples) as written.
    fn key_text(&self, start: usize, end: usize) -> String {
        if end == start + 1
            && let Some(Kind::Text(text)) = self.kind_at(start)
        {
            return text.clone();
        }
        let (Some(first), Some(last)) = (
            self.tokens.get(start),
            end.checked_sub(1).and_then(|last| self.tokens.get(last)),
        ) else {
            return String::new();
        };
        self.chars
            .get(first.start..last.end)
            .map(|chars| chars.iter().collect())
            .unwrap_or_default()
    }
}

fn field_path(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_owned()
    } else {
        format!("{parent}.{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAPER: &str = r#"// A paper-sized market
#![enable(implicit_some)]
Scenario(
    name: "paper",
    seed: 7,
    market: (
        volatility: 0.1, /* low */
        reference_spread: (mean: 1.5e-4, std_dev: 5e-5),
    ),
    investors: [
        Investor(p_trade: 0.125, size_mean: 0.5),
        Group(count: 1000, p_trade: Uniform(min: 0.005, max: 0.125), size_mean: Const(2.0)),
    ],
    market_makers: [
        (name: "A", alpha: 1.3, tiering: AverageYield(weight: 0.1), hedging: Some((risk_aversion: 0.5))),
        (name: "B", tiering: Fixed(default_tier: 2, investors: {0: 4, 3: 1}, market_makers: {"A": 0})),
    ],
)
"#;

    /// Types shaped like the paper scenario, to prove the fixture is RON that serde
    /// accepts: the scanner is only ever run on such text.
    mod model {
        use serde::Deserialize;
        use std::collections::HashMap;

        #[derive(Deserialize)]
        #[allow(dead_code)]
        pub struct Scenario {
            pub name: String,
            pub seed: u64,
            pub market: Market,
            pub investors: Vec<InvestorSpec>,
            pub market_makers: Vec<MarketMaker>,
        }

        #[derive(Deserialize)]
        #[allow(dead_code)]
        pub struct Market {
            pub volatility: f64,
            pub reference_spread: Normal,
        }

        #[derive(Deserialize)]
        #[allow(dead_code)]
        pub struct Normal {
            pub mean: f64,
            pub std_dev: f64,
        }

        #[derive(Deserialize)]
        #[allow(dead_code)]
        pub enum InvestorSpec {
            Investor {
                p_trade: f64,
                size_mean: f64,
            },
            Group {
                count: u32,
                p_trade: Dist,
                size_mean: Dist,
            },
        }

        #[derive(Deserialize)]
        #[allow(dead_code)]
        pub enum Dist {
            Uniform { min: f64, max: f64 },
            Const(f64),
        }

        #[derive(Deserialize)]
        #[allow(dead_code)]
        pub struct MarketMaker {
            pub name: String,
            #[serde(default)]
            pub alpha: f64,
            pub tiering: Tiering,
            #[serde(default)]
            pub hedging: Option<Hedging>,
        }

        #[derive(Deserialize)]
        #[allow(dead_code)]
        pub enum Tiering {
            AverageYield {
                weight: f64,
            },
            Fixed {
                default_tier: u32,
                investors: HashMap<u32, u32>,
                market_makers: HashMap<String, u32>,
            },
        }

        #[derive(Deserialize)]
        #[allow(dead_code)]
        pub struct Hedging {
            pub risk_aversion: f64,
        }
    }

    fn at(line: usize, column: usize) -> Option<SourcePosition> {
        Some(SourcePosition { line, column })
    }

    /// Position of the `occurrence`-th (0-based) match of `needle` on 1-based `line`,
    /// so expectations stay readable instead of hard-coding columns.
    fn find(source: &str, line: usize, needle: &str, occurrence: usize) -> Option<SourcePosition> {
        let text = source.lines().nth(line - 1)?;
        let byte = text.match_indices(needle).nth(occurrence)?.0;
        let column = text.get(..byte)?.chars().count() + 1;
        Some(SourcePosition { line, column })
    }

    #[test]
    fn paper_fixture_is_valid_ron() {
        let parsed: Result<model::Scenario, _> = ron::from_str(PAPER);
        assert!(parsed.is_ok(), "{:?}", parsed.err());
    }

    #[test]
    fn paper_top_level_and_nested_structs() {
        let locations = FieldLocations::scan(PAPER);
        assert_eq!(locations.get(""), at(3, 1));
        assert_eq!(locations.get("name"), at(4, 11));
        assert_eq!(locations.get("seed"), at(5, 11));
        assert_eq!(locations.get("market"), at(6, 13));
        assert_eq!(locations.get("market.volatility"), at(7, 21));
        assert_eq!(locations.get("market.reference_spread"), at(8, 27));
        assert_eq!(locations.get("market.reference_spread.mean"), at(8, 34));
        assert_eq!(
            locations.get("market.reference_spread.std_dev"),
            find(PAPER, 8, "5e-5", 0)
        );
    }

    #[test]
    fn paper_lists_and_enum_variants() {
        let locations = FieldLocations::scan(PAPER);
        assert_eq!(locations.get("investors"), at(10, 16));
        assert_eq!(
            locations.get("investors[0]"),
            find(PAPER, 11, "Investor", 0)
        );
        assert_eq!(
            locations.get("investors[0].size_mean"),
            find(PAPER, 11, "0.5", 0)
        );
        assert_eq!(locations.get("investors[1]"), find(PAPER, 12, "Group", 0));
        assert_eq!(
            locations.get("investors[1].count"),
            find(PAPER, 12, "1000", 0)
        );
        assert_eq!(
            locations.get("investors[1].p_trade"),
            find(PAPER, 12, "Uniform", 0)
        );
        assert_eq!(
            locations.get("investors[1].p_trade.min"),
            find(PAPER, 12, "0.005", 0)
        );
        assert_eq!(
            locations.get("investors[1].p_trade.max"),
            find(PAPER, 12, "0.125", 0)
        );
        // A newtype variant is transparent, and the path points at the variant name.
        assert_eq!(
            locations.get("investors[1].size_mean"),
            find(PAPER, 12, "Const", 0)
        );
        assert_eq!(locations.get("investors[1].size_mean[0]"), None);
        assert_eq!(locations.get("investors[2]"), None);
    }

    #[test]
    fn paper_market_makers() {
        let locations = FieldLocations::scan(PAPER);
        assert_eq!(locations.get("market_makers[0]"), at(15, 9));
        assert_eq!(
            locations.get("market_makers[0].name"),
            find(PAPER, 15, "\"A\"", 0)
        );
        assert_eq!(
            locations.get("market_makers[0].alpha"),
            find(PAPER, 15, "1.3", 0)
        );
        assert_eq!(
            locations.get("market_makers[0].tiering"),
            find(PAPER, 15, "AverageYield", 0)
        );
        assert_eq!(
            locations.get("market_makers[0].tiering.weight"),
            find(PAPER, 15, "0.1", 0)
        );
        assert_eq!(
            locations.get("market_makers[0].hedging"),
            find(PAPER, 15, "Some", 0)
        );
        assert_eq!(
            locations.get("market_makers[0].hedging.risk_aversion"),
            find(PAPER, 15, "0.5", 0)
        );
        assert_eq!(
            locations.get("market_makers[1].tiering.default_tier"),
            find(PAPER, 16, "2", 0)
        );
        assert_eq!(
            locations.get("market_makers[1].tiering.investors"),
            find(PAPER, 16, "{0", 0)
        );
        assert_eq!(
            locations.get("market_makers[1].tiering.investors[0]"),
            find(PAPER, 16, "4", 0)
        );
        assert_eq!(
            locations.get("market_makers[1].tiering.investors[3]"),
            find(PAPER, 16, "1}", 0)
        );
        assert_eq!(
            locations.get("market_makers[1].tiering.market_makers[A]"),
            find(PAPER, 16, "0}", 0)
        );
        // Map keys are not values of their own.
        assert_eq!(locations.get("market_makers[1].tiering.investors[4]"), None);
    }

    #[test]
    fn nearest_falls_back_to_written_ancestor() {
        let locations = FieldLocations::scan(PAPER);
        assert_eq!(
            locations.nearest("market_makers[0].alpha"),
            find(PAPER, 15, "1.3", 0).map(|p| (p, true))
        );
        assert_eq!(
            locations.nearest("market_makers[1].alpha"),
            at(16, 9).map(|p| (p, false))
        );
        assert_eq!(
            locations.nearest("market_makers[1].hedging.risk_aversion"),
            at(16, 9).map(|p| (p, false))
        );
        assert_eq!(
            locations.nearest("market.reference_spread.skew"),
            at(8, 27).map(|p| (p, false))
        );
        assert_eq!(
            locations.nearest("investors[7].p_trade"),
            at(10, 16).map(|p| (p, false))
        );
        assert_eq!(
            locations.nearest("exchanges[0]"),
            at(3, 1).map(|p| (p, false))
        );
        assert_eq!(locations.nearest(""), at(3, 1).map(|p| (p, true)));
        assert_eq!(FieldLocations::scan("").nearest("a.b"), None);
        assert_eq!(FieldLocations::scan("// nothing\n").nearest(""), None);
    }

    #[test]
    fn strings_do_not_confuse_the_scanner() {
        let source = r##"(
    label: "a ( [ { : , // not a comment",
    quoted: "say \"x: (\" ok",
    raw: r"no \escape ( here",
    hashed: r#"a "quoted" ) ] } "#,
    ch: '(',
    quote: '\'',
    after: 5,
)"##;
        let locations = FieldLocations::scan(source);
        assert_eq!(locations.get("label"), at(2, 12));
        assert_eq!(locations.get("quoted"), at(3, 13));
        assert_eq!(locations.get("raw"), at(4, 10));
        assert_eq!(locations.get("hashed"), at(5, 13));
        assert_eq!(locations.get("ch"), at(6, 9));
        assert_eq!(locations.get("quote"), at(7, 12));
        assert_eq!(locations.get("after"), at(8, 12));
        assert_eq!(locations.positions.len(), 8);
    }

    #[test]
    fn comments_between_tokens_and_nested_block_comments() {
        let source = "/* header /* nested */ still header */ (\n\
                      \x20 a /* x */ : /* y */ 1, // trailing: (\n\
                      \x20 // b: 99,\n\
                      \x20 b\n\
                      \x20 :\n\
                      \x20 // between\n\
                      \x20 [ 1 , /* ] */ 2 ],\n\
                      )";
        let locations = FieldLocations::scan(source);
        assert_eq!(locations.get(""), at(1, 40));
        assert_eq!(locations.get("a"), at(2, 23));
        assert_eq!(locations.get("b"), at(7, 3));
        assert_eq!(locations.get("b[0]"), at(7, 5));
        assert_eq!(locations.get("b[1]"), at(7, 17));
        assert_eq!(locations.get("b[2]"), None);
    }

    #[test]
    fn columns_count_chars_not_bytes() {
        let source = "(name: \"größe ✓ 日本\", x: 1,\n    /* é */ y: 2)";
        let locations = FieldLocations::scan(source);
        assert_eq!(locations.get("x"), find(source, 1, "1", 0));
        assert_eq!(locations.get("x"), at(1, 25));
        assert_eq!(locations.get("y"), at(2, 16));
    }

    #[test]
    fn numbers_idents_units_and_tuples() {
        let source = "(a: -3, b: +1.0, c: 1e-5, d: inf, e: -inf, f: NaN, g: 0x1F, h: 1_000, \
                      i: (), j: Unit, k: (1, 2.5, \"s\"), l: (7,), m: None, r#type: 1, n: [],\
                      o: {(1, 2): \"t\", 'c': 1, Key: 2,},)";
        let locations = FieldLocations::scan(source);
        for (name, literal) in [
            ("a", "-3"),
            ("b", "+1.0"),
            ("c", "1e-5"),
            ("d", "inf"),
            ("e", "-inf"),
            ("f", "NaN"),
            ("g", "0x1F"),
            ("h", "1_000"),
            ("i", "()"),
            ("j", "Unit"),
            ("k", "(1, 2.5"),
            ("k[0]", "1, 2.5"),
            ("k[1]", "2.5"),
            ("k[2]", "\"s\""),
            ("l", "(7,)"),
            ("m", "None"),
            ("n", "[]"),
            ("type", "1, n"),
            ("o[(1, 2)]", "\"t\""),
            ("o[c]", "1, Key"),
            ("o[Key]", "2,}"),
        ] {
            assert_eq!(locations.get(name), find(source, 1, literal, 0), "{name}");
        }
        // A one-element tuple is transparent like a newtype.
        assert_eq!(locations.get("l[0]"), None);
        // Each value is a single token: `-3` must not become `-` then `3`.
        assert_eq!(locations.positions.len(), 23);
    }

    #[test]
    fn string_map_keys_are_unescaped() {
        let source = r#"{"plain": 1, "with \"quote\"": 2, r"raw\n": 3, "\u{e9}": 4}"#;
        let locations = FieldLocations::scan(source);
        assert!(locations.get("[plain]").is_some());
        assert!(locations.get("[with \"quote\"]").is_some());
        assert!(locations.get("[raw\\n]").is_some());
        assert!(locations.get("[é]").is_some());
        assert!(locations.get("").is_some());
    }

    #[test]
    fn top_level_list_and_attributes() {
        let source = "#![enable(implicit_some)]\n#![enable(unwrap_newtypes)]\n[1, (x: 2)]";
        let locations = FieldLocations::scan(source);
        assert_eq!(locations.get(""), at(3, 1));
        assert_eq!(locations.get("[0]"), at(3, 2));
        assert_eq!(locations.get("[1].x"), at(3, 9));
    }

    #[test]
    fn malformed_and_truncated_inputs_do_not_panic() {
        for source in [
            "",
            "(",
            ")",
            "]]]]",
            "(a:",
            "(a: [1, 2",
            "(a: {1: ",
            "(a: {1 2 3}",
            "(a: \"unterminated",
            "(a: r#\"unterminated\"",
            "(a: 'x",
            "/* never closed",
            "(a: 1 b: 2)",
            "(: : , , a: : 1)",
            "(a: [1, 2), b: 3)",
            "#",
            "#!",
            "#![",
            "\"\\",
            "'\\",
            "r#",
            "b'",
            "br#",
            "\"\\u{110000}\"",
            "\"\\u{12\"",
            "{\"\\x",
        ] {
            let locations = FieldLocations::scan(source);
            let _ = locations.nearest("a.b[0]");
            for offset in 0..=source.len() + 2 {
                let _ = position_of_offset(source, offset);
            }
        }
        // Fields before the damage are still found.
        let locations = FieldLocations::scan("(a: 1, b: [2, (c: 3");
        assert_eq!(locations.get("a"), at(1, 5));
        assert_eq!(locations.get("b[1].c"), at(1, 19));
        // A mismatched closer ends the group without losing what follows.
        let locations = FieldLocations::scan("(a: [1, 2), b: 3)");
        assert_eq!(locations.get("a[1]"), at(1, 9));
    }

    #[test]
    fn deep_nesting_is_capped_not_recursed() {
        for open in ["(", "[", "{", "Some(", "(a: "] {
            let source = open.repeat(100_000);
            let locations = FieldLocations::scan(&source);
            assert!(locations.get("").is_some(), "{open}");
        }
        let source = format!("{}1{}", "[".repeat(1000), "]".repeat(1000));
        let locations = FieldLocations::scan(&source);
        let deep = "[0]".repeat(MAX_DEPTH);
        assert_eq!(locations.get(&deep), at(1, MAX_DEPTH + 1));
        assert_eq!(locations.get(&format!("{deep}[0]")), None);
        assert!(locations.nearest(&"[0]".repeat(1000)).is_some());
    }

    #[test]
    fn pseudo_random_input_does_not_panic() {
        // xorshift keeps the fuzz loop deterministic and dependency-free.
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let alphabet: Vec<char> = "()[]{}:,#!\"'\\/*rb-+.eE0123456789xyz_ \n\té✓日"
            .chars()
            .collect();
        for round in 0..3000 {
            let length = (next() % 80) as usize;
            let source: String = if round % 2 == 0 {
                (0..length)
                    .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                    .collect()
            } else {
                let bytes: Vec<u8> = (0..length).map(|_| next() as u8).collect();
                String::from_utf8_lossy(&bytes).into_owned()
            };
            let locations = FieldLocations::scan(&source);
            let _ = locations.nearest("a[0].b");
            let _ = position_of_offset(&source, (next() % 100) as usize);
        }
        // Mutations of a real document: truncations at every char boundary.
        for (end, _) in PAPER.char_indices() {
            let locations = FieldLocations::scan(&PAPER[..end]);
            let _ = locations.nearest("market_makers[1].tiering.investors[3]");
        }
    }

    #[test]
    fn position_of_offset_counts_lines_and_chars() {
        let source = "ab\nçd\n\nx";
        assert_eq!(
            position_of_offset(source, 0),
            SourcePosition { line: 1, column: 1 }
        );
        assert_eq!(
            position_of_offset(source, 2),
            SourcePosition { line: 1, column: 3 }
        );
        assert_eq!(
            position_of_offset(source, 3),
            SourcePosition { line: 2, column: 1 }
        );
        // `ç` is two bytes but one column; an offset inside it means the char itself.
        assert_eq!(
            position_of_offset(source, 4),
            SourcePosition { line: 2, column: 1 }
        );
        assert_eq!(
            position_of_offset(source, 5),
            SourcePosition { line: 2, column: 2 }
        );
        assert_eq!(
            position_of_offset(source, 7),
            SourcePosition { line: 3, column: 1 }
        );
        assert_eq!(
            position_of_offset(source, 8),
            SourcePosition { line: 4, column: 1 }
        );
        assert_eq!(
            position_of_offset(source, 9),
            SourcePosition { line: 4, column: 2 }
        );
        assert_eq!(
            position_of_offset(source, 1000),
            SourcePosition { line: 4, column: 2 }
        );
        assert_eq!(
            position_of_offset("", 5),
            SourcePosition { line: 1, column: 1 }
        );
    }

    #[test]
    fn position_of_offset_agrees_with_scan() {
        let locations = FieldLocations::scan(PAPER);
        let byte = PAPER
            .find("risk_aversion: ")
            .map(|b| b + "risk_aversion: ".len());
        assert_eq!(
            byte.map(|byte| position_of_offset(PAPER, byte)),
            locations.get("market_makers[0].hedging.risk_aversion")
        );
    }
}
