//! Compiling bidder logic against one auction's data: each expression of the AST
//! ([`super::expr`]) becomes a linear form in the bidder's fills, or a conjunction of
//! linear constraints, with every non-linear use refused at its position.

use std::collections::BTreeMap;

use super::expr::{ArithOp, CmpOp, ExprError, MarketField, Node, NodeKind, Span, error};

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
    use crate::mechanisms::auction::expr::parse;

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
        assert!(
            parse(&negs)
                .expect_err("too deep")
                .message
                .contains("nested")
        );
        assert!(parse(&"1+".repeat(3000)).is_err());
        // A long flat sum is no nesting: accepted (a loop, not recursion), up to the
        // length cap.
        assert!(parse(&format!("{}1 <= 2", "1+".repeat(1000))).is_ok());
        let long = parse(&format!("{}1 <= 2", "1+".repeat(3000))).expect_err("too long");
        assert!(long.message.contains("at most 4096"), "{long}");
    }
}
