//! Bidder logic: a small declarative language over fill quantities, parsed into a typed
//! AST with positions and compiled, against one auction's market data, into linear
//! constraints.
//!
//! The language (docs/auction.md has the full grammar):
//! - numbers (`10.01`, `1e3`), `qty(o)` (the fill of the bidder's order `o`, in shares),
//!   `px(o)` (that order's limit price), market data `NBB(S)`, `NBO(S)`, `MID(S)`,
//!   `SPREAD(S)` (= NBO − NBB) of symbol `S`;
//! - `+ - * /`, unary `-`, parentheses; a product needs a constant side and a division a
//!   constant divisor, so every expression stays linear in the fills;
//! - comparisons `<= >= == < >`, chained (`0 <= qty(o) <= 999`); strict ones only
//!   between whole-number sides (fills are whole shares), where `a < b` means `a <= b - 1`;
//! - `&&` (every part must hold), `abs(e) <= c`, `all_eq(e1, e2, ...)`, `true`.
//!
//! `||` is refused with advice: alternatives are separate `subject_to` entries of the
//! bidder, and the clearing picks at most one of them. Compiling is [`super::linear`]'s.

use std::fmt;

/// Nesting deeper than this is refused, so hostile input cannot exhaust the stack.
const MAX_DEPTH: usize = 64;

/// Longest expression accepted, in chars.
pub const MAX_EXPRESSION_CHARS: usize = 4096;

/// A range of chars in an expression: `[start, end)`, 0-based.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    /// First char.
    pub start: usize,
    /// One past the last char.
    pub end: usize,
}

impl Span {
    pub(super) fn to(self, other: Span) -> Span {
        Span {
            start: self.start,
            end: other.end.max(self.end),
        }
    }
}

/// What is wrong with an expression, and where.
#[derive(Clone, Debug, PartialEq)]
pub struct ExprError {
    /// Where in the expression (chars).
    pub span: Span,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column {}: {}", self.span.start + 1, self.message)
    }
}

pub(super) fn error<T>(span: Span, message: impl Into<String>) -> Result<T, ExprError> {
    Err(ExprError {
        span,
        message: message.into(),
    })
}

/// A market-data accessor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarketField {
    /// National best bid.
    Nbb,
    /// National best offer.
    Nbo,
    /// (NBB + NBO) / 2.
    Mid,
    /// NBO − NBB.
    Spread,
}

/// A binary arithmetic operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArithOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    /// `<=`
    Le,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `>`
    Gt,
    /// `==`
    Eq,
}

/// One node of the AST.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// What the node is.
    pub kind: NodeKind,
    /// Where it is written.
    pub span: Span,
}

/// The kinds of AST node.
#[derive(Clone, Debug, PartialEq)]
pub enum NodeKind {
    /// A number literal.
    Number(f64),
    /// `true`.
    True,
    /// `qty(order)`.
    Qty(String),
    /// `px(order)`.
    Px(String),
    /// `NBB(symbol)` and the other accessors.
    Market(MarketField, String),
    /// `-e`.
    Neg(Box<Node>),
    /// `a op b`.
    Arith(ArithOp, Box<Node>, Box<Node>),
    /// A chain of comparisons `a op b op c ...`: the operands and the operators between.
    Compare(Vec<Node>, Vec<CmpOp>),
    /// `a && b && ...`.
    And(Vec<Node>),
    /// `abs(e)`.
    Abs(Box<Node>),
    /// `all_eq(e1, e2, ...)`.
    AllEq(Vec<Node>),
}

// ---------------------------------------------------------------------------------------
// Lexing

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Number(f64),
    Ident(String),
    Str(String),
    LParen,
    RParen,
    Comma,
    Op(&'static str),
    End,
}

fn lex(text: &str) -> Result<Vec<(Token, Span)>, ExprError> {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() > MAX_EXPRESSION_CHARS {
        return error(
            Span { start: 0, end: 0 },
            format!(
                "expression of {} chars; at most {MAX_EXPRESSION_CHARS} are accepted",
                chars.len()
            ),
        );
    }
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        let span = |end: usize| Span { start, end };
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) {
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            if i < chars.len() && (chars[i] == 'e' || chars[i] == 'E') {
                let mut j = i + 1;
                if j < chars.len() && (chars[j] == '+' || chars[j] == '-') {
                    j += 1;
                }
                if j < chars.len() && chars[j].is_ascii_digit() {
                    i = j;
                    while i < chars.len() && chars[i].is_ascii_digit() {
                        i += 1;
                    }
                }
            }
            let literal: String = chars[start..i].iter().collect();
            match literal.parse::<f64>() {
                Ok(value) if value.is_finite() => tokens.push((Token::Number(value), span(i))),
                _ => return error(span(i), format!("`{literal}` is not a finite number")),
            }
            continue;
        }
        if c.is_alphabetic() || c == '_' {
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '.')
            {
                i += 1;
            }
            tokens.push((Token::Ident(chars[start..i].iter().collect()), span(i)));
            continue;
        }
        if c == '"' || c == '\'' {
            i += 1;
            while i < chars.len() && chars[i] != c {
                i += 1;
            }
            if i == chars.len() {
                return error(span(i), "unterminated quoted name");
            }
            tokens.push((
                Token::Str(chars[start + 1..i].iter().collect()),
                span(i + 1),
            ));
            i += 1;
            continue;
        }
        let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
        let op2 = ["<=", ">=", "==", "!=", "&&", "||"]
            .into_iter()
            .find(|op| *op == two);
        if let Some(op) = op2 {
            tokens.push((Token::Op(op), span(i + 2)));
            i += 2;
            continue;
        }
        let token = match c {
            '(' => Token::LParen,
            ')' => Token::RParen,
            ',' => Token::Comma,
            '+' => Token::Op("+"),
            '-' => Token::Op("-"),
            '*' => Token::Op("*"),
            '/' => Token::Op("/"),
            '<' => Token::Op("<"),
            '>' => Token::Op(">"),
            '!' => Token::Op("!"),
            '=' => return error(span(i + 1), "`=` is not an operator; compare with `==`"),
            '&' | '|' => {
                return error(
                    span(i + 1),
                    format!("`{c}` alone is not an operator; `{c}{c}`?"),
                );
            }
            _ => return error(span(i + 1), format!("unexpected character `{c}`")),
        };
        tokens.push((token, span(i + 1)));
        i += 1;
    }
    tokens.push((
        Token::End,
        Span {
            start: chars.len(),
            end: chars.len(),
        },
    ));
    Ok(tokens)
}

// ---------------------------------------------------------------------------------------
// Parsing

/// Parses one expression into its AST.
///
/// # Errors
/// [`ExprError`] at the first token that does not fit the grammar.
pub fn parse(text: &str) -> Result<Node, ExprError> {
    let tokens = lex(text)?;
    let mut parser = Parser {
        tokens,
        at: 0,
        depth: 0,
    };
    let node = parser.condition()?;
    match parser.peek() {
        Token::End => Ok(node),
        Token::Op("||") => error(
            parser.span(),
            "`||` is not supported: write each alternative as its own `subject_to` entry \
             (the auction picks at most one per bidder)",
        ),
        other => error(parser.span(), format!("unexpected {}", describe(other))),
    }
}

struct Parser {
    tokens: Vec<(Token, Span)>,
    at: usize,
    depth: usize,
}

fn describe(token: &Token) -> String {
    match token {
        Token::Number(x) => format!("number {x}"),
        Token::Ident(name) => format!("name `{name}`"),
        Token::Str(name) => format!("quoted name \"{name}\""),
        Token::LParen => "`(`".into(),
        Token::RParen => "`)`".into(),
        Token::Comma => "`,`".into(),
        Token::Op(op) => format!("`{op}`"),
        Token::End => "end of expression".into(),
    }
}

impl Parser {
    fn peek(&self) -> &Token {
        &self.tokens[self.at].0
    }

    fn span(&self) -> Span {
        self.tokens[self.at].1
    }

    fn bump(&mut self) -> (Token, Span) {
        let token = self.tokens[self.at].clone();
        if self.at + 1 < self.tokens.len() {
            self.at += 1;
        }
        token
    }

    fn enter(&mut self) -> Result<(), ExprError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return error(
                self.span(),
                format!("nested more than {MAX_DEPTH} deep; simplify the expression"),
            );
        }
        Ok(())
    }

    fn expect(&mut self, wanted: Token, what: &str) -> Result<Span, ExprError> {
        if *self.peek() == wanted {
            Ok(self.bump().1)
        } else {
            error(
                self.span(),
                format!("expected {what}, found {}", describe(self.peek())),
            )
        }
    }

    fn condition(&mut self) -> Result<Node, ExprError> {
        self.enter()?;
        let first = self.comparison()?;
        let mut parts = vec![first];
        while *self.peek() == Token::Op("&&") {
            self.bump();
            parts.push(self.comparison()?);
        }
        self.depth -= 1;
        if parts.len() == 1 {
            return Ok(parts.pop().expect("one part"));
        }
        let span = parts[0].span.to(parts[parts.len() - 1].span);
        Ok(Node {
            kind: NodeKind::And(parts),
            span,
        })
    }

    fn comparison(&mut self) -> Result<Node, ExprError> {
        let first = self.additive()?;
        let mut operands = vec![first];
        let mut ops = Vec::new();
        loop {
            let op = match self.peek() {
                Token::Op("<=") => CmpOp::Le,
                Token::Op(">=") => CmpOp::Ge,
                Token::Op("<") => CmpOp::Lt,
                Token::Op(">") => CmpOp::Gt,
                Token::Op("==") => CmpOp::Eq,
                Token::Op("!=") => {
                    return error(
                        self.span(),
                        "`!=` is not supported (it is not convex); write two alternatives",
                    );
                }
                _ => break,
            };
            self.bump();
            ops.push(op);
            operands.push(self.additive()?);
        }
        if ops.is_empty() {
            return Ok(operands.pop().expect("one operand"));
        }
        let span = operands[0].span.to(operands[operands.len() - 1].span);
        Ok(Node {
            kind: NodeKind::Compare(operands, ops),
            span,
        })
    }

    fn additive(&mut self) -> Result<Node, ExprError> {
        let mut left = self.term()?;
        loop {
            let op = match self.peek() {
                Token::Op("+") => ArithOp::Add,
                Token::Op("-") => ArithOp::Sub,
                _ => break,
            };
            self.bump();
            let right = self.term()?;
            let span = left.span.to(right.span);
            left = Node {
                kind: NodeKind::Arith(op, Box::new(left), Box::new(right)),
                span,
            };
        }
        Ok(left)
    }

    fn term(&mut self) -> Result<Node, ExprError> {
        let mut left = self.unary()?;
        loop {
            let op = match self.peek() {
                Token::Op("*") => ArithOp::Mul,
                Token::Op("/") => ArithOp::Div,
                _ => break,
            };
            self.bump();
            let right = self.unary()?;
            let span = left.span.to(right.span);
            left = Node {
                kind: NodeKind::Arith(op, Box::new(left), Box::new(right)),
                span,
            };
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Node, ExprError> {
        if *self.peek() == Token::Op("-") {
            let (_, start) = self.bump();
            self.enter()?;
            let inner = self.unary()?;
            self.depth -= 1;
            let span = start.to(inner.span);
            return Ok(Node {
                kind: NodeKind::Neg(Box::new(inner)),
                span,
            });
        }
        if *self.peek() == Token::Op("!") {
            return error(
                self.span(),
                "`!` is not supported; state the condition directly (`qty(o) <= 5`, not `!(qty(o) > 5)`)",
            );
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Node, ExprError> {
        let (token, span) = self.bump();
        match token {
            Token::Number(value) => Ok(Node {
                kind: NodeKind::Number(value),
                span,
            }),
            Token::LParen => {
                let inner = self.condition()?;
                let end = self.expect(Token::RParen, "`)`")?;
                Ok(Node {
                    kind: inner.kind,
                    span: span.to(end),
                })
            }
            Token::Ident(name) if name == "true" => Ok(Node {
                kind: NodeKind::True,
                span,
            }),
            Token::Ident(name) => self.call(name, span),
            other => error(
                span,
                format!("expected a value, found {}", describe(&other)),
            ),
        }
    }

    fn call(&mut self, name: String, start: Span) -> Result<Node, ExprError> {
        const FUNCTIONS: &str = "qty, px, NBB, NBO, MID, SPREAD, abs, all_eq";
        let market = match name.as_str() {
            "NBB" | "nbb" => Some(MarketField::Nbb),
            "NBO" | "nbo" => Some(MarketField::Nbo),
            "MID" | "mid" => Some(MarketField::Mid),
            "SPREAD" | "spread" => Some(MarketField::Spread),
            _ => None,
        };
        let known = market.is_some() || matches!(name.as_str(), "qty" | "px" | "abs" | "all_eq");
        if !known {
            return error(
                start,
                format!("unknown name `{name}`; the functions are {FUNCTIONS}"),
            );
        }
        self.expect(Token::LParen, &format!("`(` after `{name}`"))?;
        if name == "abs" || name == "all_eq" {
            self.enter()?;
            let mut args = vec![self.additive()?];
            while *self.peek() == Token::Comma {
                self.bump();
                args.push(self.additive()?);
            }
            self.depth -= 1;
            let end = self.expect(Token::RParen, "`)` or `,`")?;
            let span = start.to(end);
            if name == "abs" {
                if args.len() != 1 {
                    return error(span, "abs takes one argument");
                }
                return Ok(Node {
                    kind: NodeKind::Abs(Box::new(args.pop().expect("one argument"))),
                    span,
                });
            }
            if args.len() < 2 {
                return error(span, "all_eq needs at least two arguments");
            }
            return Ok(Node {
                kind: NodeKind::AllEq(args),
                span,
            });
        }
        let (argument, arg_span) = self.bump();
        let argument = match argument {
            Token::Ident(a) | Token::Str(a) => a,
            other => {
                return error(
                    arg_span,
                    format!(
                        "`{name}` takes {} name, found {}",
                        if market.is_some() {
                            "a symbol"
                        } else {
                            "an order"
                        },
                        describe(&other)
                    ),
                );
            }
        };
        let end = self.expect(Token::RParen, "`)`")?;
        let span = start.to(end);
        let kind = match (market, name.as_str()) {
            (Some(field), _) => NodeKind::Market(field, argument),
            (None, "qty") => NodeKind::Qty(argument),
            _ => NodeKind::Px(argument),
        };
        Ok(Node { kind, span })
    }
}
