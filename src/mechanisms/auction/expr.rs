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
//! bidder, and the clearing picks at most one of them.

use std::collections::BTreeMap;
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
    fn to(self, other: Span) -> Span {
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

fn error<T>(span: Span, message: impl Into<String>) -> Result<T, ExprError> {
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

// ---------------------------------------------------------------------------------------
// Compiling against one auction's data

/// An affine form in the bidder's fills: Σ coefficient·qty(order) + constant, with orders
/// named by their index in the bidder.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Affine {
    /// Coefficient per order index (no zero entries).
    pub terms: BTreeMap<usize, f64>,
    /// The constant part.
    pub constant: f64,
}

impl Affine {
    fn constant(value: f64) -> Self {
        Self {
            terms: BTreeMap::new(),
            constant: value,
        }
    }

    fn qty(order: usize) -> Self {
        Self {
            terms: BTreeMap::from([(order, 1.0)]),
            constant: 0.0,
        }
    }

    fn is_constant(&self) -> bool {
        self.terms.is_empty()
    }

    fn scaled(mut self, factor: f64) -> Self {
        for value in self.terms.values_mut() {
            *value *= factor;
        }
        self.terms.retain(|_, c| *c != 0.0);
        self.constant *= factor;
        self
    }

    fn plus(mut self, other: Affine, sign: f64) -> Self {
        for (order, c) in other.terms {
            *self.terms.entry(order).or_insert(0.0) += sign * c;
        }
        self.terms.retain(|_, c| *c != 0.0);
        self.constant += sign * other.constant;
        self
    }

    /// The value at `fills` (indexed by order).
    pub fn eval(&self, fills: &[f64]) -> f64 {
        self.constant + self.terms.iter().map(|(&o, &c)| c * fills[o]).sum::<f64>()
    }

    /// Whether every coefficient and the constant are whole numbers.
    fn is_integral(&self) -> bool {
        let whole = |x: f64| (x - x.round()).abs() <= 1e-9 * x.abs().max(1.0);
        whole(self.constant) && self.terms.values().all(|&c| whole(c))
    }
}

/// A linear constraint on a bidder's fills: `expr <= 0` or `expr == 0`.
#[derive(Clone, Debug, PartialEq)]
pub struct Constraint {
    /// Left side, compared with 0.
    pub expr: Affine,
    /// `true`: `expr == 0`; `false`: `expr <= 0`.
    pub equality: bool,
}

impl Constraint {
    /// Whether `fills` satisfy it, to within `tolerance`.
    pub fn holds(&self, fills: &[f64], tolerance: f64) -> bool {
        let value = self.expr.eval(fills);
        if self.equality {
            value.abs() <= tolerance
        } else {
            value <= tolerance
        }
    }
}

/// What the compiler needs to know about the bidder and the market.
pub trait Context {
    /// Index of the bidder's order `id` and its limit price.
    fn order(&self, id: &str) -> Result<(usize, Option<f64>), String>;
    /// The quote of `symbol`: (NBB, NBO).
    fn quote(&self, symbol: &str) -> Result<(f64, f64), String>;
}

/// A compiled value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A linear form (a constant when it has no terms).
    Linear(Affine),
    /// `abs` of a linear form: only `abs(x) <= c` may use it.
    Abs(Affine),
    /// A conjunction of linear constraints.
    Bool(Vec<Constraint>),
}

fn kind_name(value: &Value) -> &'static str {
    match value {
        Value::Linear(a) if a.is_constant() => "a number",
        Value::Linear(_) => "a linear expression",
        Value::Abs(_) => "abs(...)",
        Value::Bool(_) => "a condition",
    }
}

/// Compiles `node` against `context`.
///
/// # Errors
/// [`ExprError`] where a name is unknown, a product or quotient is not linear, or a
/// value is used where another kind is needed.
pub fn compile(node: &Node, context: &dyn Context) -> Result<Value, ExprError> {
    let at = node.span;
    match &node.kind {
        NodeKind::Number(x) => Ok(Value::Linear(Affine::constant(*x))),
        NodeKind::True => Ok(Value::Bool(Vec::new())),
        NodeKind::Qty(id) => {
            let (index, _) = context.order(id).or_else(|m| error(at, m))?;
            Ok(Value::Linear(Affine::qty(index)))
        }
        NodeKind::Px(id) => match context.order(id).or_else(|m| error(at, m))? {
            (_, Some(limit)) => Ok(Value::Linear(Affine::constant(limit))),
            (_, None) => error(at, format!("order `{id}` has no limit price for px()")),
        },
        NodeKind::Market(field, symbol) => {
            let (nbb, nbo) = context.quote(symbol).or_else(|m| error(at, m))?;
            let value = match field {
                MarketField::Nbb => nbb,
                MarketField::Nbo => nbo,
                MarketField::Mid => 0.5 * (nbb + nbo),
                MarketField::Spread => nbo - nbb,
            };
            Ok(Value::Linear(Affine::constant(value)))
        }
        NodeKind::Neg(inner) => match compile(inner, context)? {
            Value::Linear(a) => Ok(Value::Linear(a.scaled(-1.0))),
            other => error(at, format!("cannot negate {}", kind_name(&other))),
        },
        NodeKind::Arith(op, left, right) => {
            let l = linear(left, context)?;
            let r = linear(right, context)?;
            let result = match op {
                ArithOp::Add => l.plus(r, 1.0),
                ArithOp::Sub => l.plus(r, -1.0),
                ArithOp::Mul if l.is_constant() => r.scaled(l.constant),
                ArithOp::Mul if r.is_constant() => l.scaled(r.constant),
                ArithOp::Mul => {
                    return error(
                        at,
                        "a product of two fill quantities is not linear; one side must be a constant",
                    );
                }
                ArithOp::Div if !r.is_constant() => {
                    return error(
                        right.span,
                        "the divisor must be a constant, not a fill quantity",
                    );
                }
                ArithOp::Div if r.constant == 0.0 => {
                    return error(right.span, "division by zero");
                }
                ArithOp::Div => l.scaled(1.0 / r.constant),
            };
            if !result.constant.is_finite() || result.terms.values().any(|c| !c.is_finite()) {
                return error(at, "the value is not finite");
            }
            Ok(Value::Linear(result))
        }
        NodeKind::Abs(inner) => {
            let a = linear(inner, context)?;
            if a.is_constant() {
                Ok(Value::Linear(Affine::constant(a.constant.abs())))
            } else {
                Ok(Value::Abs(a))
            }
        }
        NodeKind::AllEq(args) => {
            let mut forms = Vec::with_capacity(args.len());
            for arg in args {
                forms.push(linear(arg, context)?);
            }
            let first = forms[0].clone();
            Ok(Value::Bool(
                forms
                    .into_iter()
                    .skip(1)
                    .map(|f| Constraint {
                        expr: f.plus(first.clone(), -1.0),
                        equality: true,
                    })
                    .collect(),
            ))
        }
        NodeKind::And(parts) => {
            let mut all = Vec::new();
            for part in parts {
                match compile(part, context)? {
                    Value::Bool(c) => all.extend(c),
                    other => {
                        return error(
                            part.span,
                            format!("`&&` joins conditions, but this is {}", kind_name(&other)),
                        );
                    }
                }
            }
            Ok(Value::Bool(all))
        }
        NodeKind::Compare(operands, ops) => {
            let mut values = Vec::with_capacity(operands.len());
            for operand in operands {
                values.push((compile(operand, context)?, operand.span));
            }
            let mut constraints = Vec::new();
            for (i, op) in ops.iter().enumerate() {
                let (l, l_span) = &values[i];
                let (r, r_span) = &values[i + 1];
                constraints.extend(comparison(*op, l, *l_span, r, *r_span)?);
            }
            Ok(Value::Bool(constraints))
        }
    }
}

fn linear(node: &Node, context: &dyn Context) -> Result<Affine, ExprError> {
    match compile(node, context)? {
        Value::Linear(a) => Ok(a),
        Value::Abs(_) => error(
            node.span,
            "abs(...) can only be bounded above (`abs(x) <= c`), not used in arithmetic",
        ),
        other @ Value::Bool(_) => error(
            node.span,
            format!("expected a number here, found {}", kind_name(&other)),
        ),
    }
}

fn comparison(
    op: CmpOp,
    left: &Value,
    left_span: Span,
    right: &Value,
    right_span: Span,
) -> Result<Vec<Constraint>, ExprError> {
    // Orient so that the constraint reads `small <= big` (or `<`, `==`).
    let (small, big, small_span, big_span, strict, equality) = match op {
        CmpOp::Le => (left, right, left_span, right_span, false, false),
        CmpOp::Lt => (left, right, left_span, right_span, true, false),
        CmpOp::Ge => (right, left, right_span, left_span, false, false),
        CmpOp::Gt => (right, left, right_span, left_span, true, false),
        CmpOp::Eq => (left, right, left_span, right_span, false, true),
    };
    let span = left_span.to(right_span);
    let as_linear = |value: &Value, at: Span| match value {
        Value::Linear(a) => Ok(a.clone()),
        other => error(
            at,
            format!("expected a number to compare, found {}", kind_name(other)),
        ),
    };
    // `abs(x) <= c`: two constraints, x <= c and -x <= c.
    if let Value::Abs(inner) = small {
        if equality {
            return error(span, "`abs(x) == c` is not convex; bound it with `<=`");
        }
        let bound = as_linear(big, big_span)?;
        let mut out = Vec::new();
        for sign in [1.0, -1.0] {
            out.extend(finish(
                inner.clone().scaled(sign).plus(bound.clone(), -1.0),
                strict,
                false,
                span,
            )?);
        }
        return Ok(out);
    }
    if matches!(big, Value::Abs(_)) {
        return error(
            big_span,
            "abs(...) can only be bounded above (`abs(x) <= c`); a lower bound on it is not convex",
        );
    }
    let small = as_linear(small, small_span)?;
    let big = as_linear(big, big_span)?;
    finish(small.plus(big, -1.0), strict, equality, span)
}

/// `difference <= 0` (`< 0` when strict, `== 0` for equality) as constraints.
fn finish(
    difference: Affine,
    strict: bool,
    equality: bool,
    span: Span,
) -> Result<Vec<Constraint>, ExprError> {
    let mut difference = difference;
    if strict {
        if !difference.is_integral() {
            return error(
                span,
                "a strict comparison needs whole-number sides (fills are whole shares, so \
                 `a < b` means `a <= b - 1`); write `<=`",
            );
        }
        difference.constant += 1.0;
    }
    Ok(vec![Constraint {
        expr: difference,
        equality,
    }])
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixture;

    impl Context for Fixture {
        fn order(&self, id: &str) -> Result<(usize, Option<f64>), String> {
            match id {
                "a" => Ok((0, Some(10.0))),
                "b" => Ok((1, None)),
                _ => Err(format!("no order `{id}`")),
            }
        }
        fn quote(&self, symbol: &str) -> Result<(f64, f64), String> {
            match symbol {
                "X" => Ok((10.0, 10.02)),
                _ => Err(format!("no symbol `{symbol}`")),
            }
        }
    }

    fn constraints(text: &str) -> Vec<Constraint> {
        match compile(&parse(text).expect(text), &Fixture).expect(text) {
            Value::Bool(c) => c,
            other => panic!("{text}: {other:?}"),
        }
    }

    fn fails(text: &str) -> ExprError {
        match parse(text) {
            Err(e) => e,
            Ok(node) => compile(&node, &Fixture).expect_err(text),
        }
    }

    #[test]
    fn a_chain_is_a_conjunction_of_linear_constraints() {
        let c = constraints("0 <= qty(a) <= 999 && qty(b) >= 2 * qty(a)");
        assert_eq!(c.len(), 3);
        assert!(c.iter().all(|c| c.holds(&[5.0, 10.0], 0.0)));
        assert!(!c[2].holds(&[5.0, 9.0], 0.0));
        assert!(!c[1].holds(&[1000.0, 9.0], 0.0));
    }

    #[test]
    fn strict_comparisons_of_whole_numbers_move_by_one_share() {
        let c = constraints("200 < qty(a)");
        assert!(c[0].holds(&[201.0, 0.0], 0.0));
        assert!(!c[0].holds(&[200.0, 0.0], 0.0));
        let e = fails("qty(a) < 0.5 * qty(b)");
        assert!(e.message.contains("whole-number"), "{e}");
    }

    #[test]
    fn market_data_and_limits_are_constants_at_auction_time() {
        // (NBO - 0.2 * SPREAD) = 10.016; px(a) = 10.
        let c = constraints("px(a) * qty(a) <= (NBO(X) - 0.2 * SPREAD(X)) * 100");
        assert!((c[0].expr.constant + 1001.6).abs() < 1e-9);
        assert_eq!(c[0].expr.terms[&0], 10.0);
        let c = constraints("MID(X) == 10.01");
        assert!(c[0].expr.constant.abs() < 1e-9 && c[0].equality);
    }

    #[test]
    fn abs_bounds_become_two_constraints_and_all_eq_equalities() {
        let c = constraints("abs(10 * qty(a) - 5 * qty(b)) <= 50");
        assert_eq!(c.len(), 2);
        assert!(c.iter().all(|c| c.holds(&[10.0, 10.0], 0.0)));
        assert!(!c.iter().all(|c| c.holds(&[10.0, 40.0], 0.0)));
        let c = constraints("all_eq(qty(a) / 6, qty(b) / 3)");
        assert_eq!(c.len(), 1);
        assert!(c[0].equality && c[0].holds(&[12.0, 6.0], 1e-12));
    }

    #[test]
    fn errors_point_at_the_offending_text() {
        let e = fails("qty(a) <= 5 || qty(b) <= 3");
        assert_eq!(e.span.start, 12);
        assert!(e.message.contains("alternative"));
        let e = fails("qty(a) * qty(b) <= 3");
        assert!(e.message.contains("not linear"), "{e}");
        let e = fails("qty(zz) <= 3");
        assert_eq!((e.span.start, e.message.as_str()), (0, "no order `zz`"));
        let e = fails("qty(a) <= NBB(Q)");
        assert_eq!(e.span.start, 10);
        let e = fails("qty(a) <= 3 +");
        assert!(e.message.contains("end of expression"), "{e}");
        assert_eq!(e.span.start, 13);
        let e = fails("frob(a) <= 3");
        assert!(e.message.contains("unknown name `frob`"), "{e}");
        let e = fails("abs(qty(a)) >= 3");
        assert!(e.message.contains("not convex"), "{e}");
        let e = fails("qty(a) / 0 <= 1");
        assert!(e.message.contains("division by zero"));
        let e = fails("px(b) <= 1");
        assert!(e.message.contains("no limit price"));
        let e = fails("qty(a) = 3");
        assert!(e.message.contains("`==`"));
    }

    #[test]
    fn hostile_nesting_is_refused_not_overflowed() {
        let deep = format!("{}qty(a){} <= 1", "(".repeat(1_000), ")".repeat(1_000));
        let e = parse(&deep).expect_err("too deep");
        assert!(e.message.contains("nested"), "{e}");
        let negs = format!("{}1 <= 2", "-".repeat(2_000));
        assert!(parse(&negs).is_err());
        assert!(parse(&"1+".repeat(3000)).is_err());
    }
}
