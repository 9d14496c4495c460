//! The cash-flow pricer: discount factors, day counts and the present value of dated flows and of geometric payment streams.
//!
//! Two ways in. [`present_value`] values dated [`CashFlow`]s on a civil calendar with a
//! [`DayCount`]; [`Stream`] is the fast path the simulation uses, a stream of payments
//! equally spaced in year fractions whose expected amounts grow geometrically, valued in
//! closed form.

use std::ops::Range;

/// How an interest rate turns into a discount factor over a period. (Serde reads it
/// straight from a scenario: the variant names are the schema.)
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Compounding {
    /// Once a year: DF = (1 + r)^(−t). The default.
    #[default]
    Annual,
    /// Continuously: DF = e^(−r t).
    Continuous,
    /// No compounding: DF = 1 / (1 + r t).
    Simple,
}

/// The discount factor over `t_years` at `rate` under `compounding`.
///
/// The caller's contract: `t_years ≥ 0` and `rate > −1` (for [`Compounding::Simple`] also
/// `1 + rate·t_years > 0`). Outside it the number returned means nothing.
pub fn discount_factor(rate: f64, t_years: f64, compounding: Compounding) -> f64 {
    match compounding {
        // ln_1p keeps (1 + r)^(−t) accurate for rates near zero.
        Compounding::Annual => (-t_years * rate.ln_1p()).exp(),
        Compounding::Continuous => (-rate * t_years).exp(),
        Compounding::Simple => 1.0 / (1.0 + rate * t_years),
    }
}

/// How the time between two dates is counted in years.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DayCount {
    /// ACT/365F: actual days / 365, whatever the year.
    Act365F,
    /// 30/360, US bond basis (ISDA 30/360); the rule is stated on [`year_fraction`].
    Thirty360,
}

/// A proleptic Gregorian calendar date. Field order makes the derived ordering
/// chronological.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    /// The year (astronomical numbering: year 0 exists).
    pub year: i32,
    /// The month, 1–12.
    pub month: u32,
    /// The day of the month, 1-based.
    pub day: u32,
}

/// Whether `year` is a Gregorian leap year.
fn is_leap_year(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// The number of days in `month` (1–12) of `year`.
fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl Date {
    /// The date, or `None` when the month is not 1–12 or the day is not in the month
    /// (29 February only in leap years).
    pub fn new(year: i32, month: u32, day: u32) -> Option<Date> {
        ((1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month))
            .then_some(Date { year, month, day })
    }

    /// Days since 1970-01-01 (negative before it).
    pub fn days_since_epoch(&self) -> i64 {
        // Howard Hinnant's days_from_civil: shift the year to start in March so the leap
        // day is the last of the year, then count whole 400-year eras.
        let month = i64::from(self.month);
        let year = i64::from(self.year) - i64::from(month <= 2);
        let era = year.div_euclid(400);
        let year_of_era = year - era * 400;
        let shifted_month = if month > 2 { month - 3 } else { month + 9 };
        let day_of_year = (153 * shifted_month + 2) / 5 + i64::from(self.day) - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        era * 146_097 + day_of_era - 719_468
    }

    /// The date `days` later (earlier when negative).
    ///
    /// Panics if the resulting year does not fit an `i32`.
    pub fn add_days(&self, days: i64) -> Date {
        // Howard Hinnant's civil_from_days, the inverse of days_from_civil.
        let z = self.days_since_epoch() + days + 719_468;
        let era = z.div_euclid(146_097);
        let day_of_era = z - era * 146_097;
        let year_of_era =
            (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let shifted_month = (5 * day_of_year + 2) / 153;
        let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
        let month = if shifted_month < 10 {
            shifted_month + 3
        } else {
            shifted_month - 9
        };
        let year = year_of_era + era * 400 + i64::from(month <= 2);
        Date {
            year: i32::try_from(year).expect("date year out of i32 range"),
            month: month as u32,
            day: day as u32,
        }
    }
}

/// The time from `start` to `end` in years under `dc`; negative (the same magnitude) when
/// `end` is before `start`.
///
/// - ACT/365F: (actual days between the dates) / 365.
/// - 30/360 (US bond basis, ISDA 30/360): with D1, D2 the days of month of the earlier
///   and the later date, first if D1 = 31 then D1 = 30; then if D1 = 30 and D2 = 31 then
///   D2 = 30. The fraction is (360·(Y2 − Y1) + 30·(M2 − M1) + (D2 − D1)) / 360. There is
///   no end-of-February adjustment: 2026-02-28 → 2026-03-31 is 33/360.
pub fn year_fraction(start: Date, end: Date, dc: DayCount) -> f64 {
    if end < start {
        // The rule is applied to the earlier date as D1, so swapping dates only flips
        // the sign.
        return -year_fraction(end, start, dc);
    }
    match dc {
        DayCount::Act365F => (end.days_since_epoch() - start.days_since_epoch()) as f64 / 365.0,
        DayCount::Thirty360 => {
            let d1 = start.day.min(30);
            let d2 = if d1 == 30 && end.day == 31 {
                30
            } else {
                end.day
            };
            let days = 360 * (i64::from(end.year) - i64::from(start.year))
                + 30 * (i64::from(end.month) - i64::from(start.month))
                + (i64::from(d2) - i64::from(d1));
            days as f64 / 360.0
        }
    }
}

/// An amount paid on a date.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CashFlow {
    /// The payment date.
    pub date: Date,
    /// The amount paid.
    pub amount: f64,
}

/// The value at `valuation` of the flows paid in (`valuation`, `until`]: each amount
/// discounted at `rate` over year_fraction(valuation, date).
///
/// A flow on the valuation date counts as already paid and is left out; one on `until`
/// is included. Flows need not be sorted.
pub fn present_value(
    flows: &[CashFlow],
    valuation: Date,
    until: Date,
    rate: f64,
    compounding: Compounding,
    day_count: DayCount,
) -> f64 {
    flows
        .iter()
        .filter(|flow| valuation < flow.date && flow.date <= until)
        .map(|flow| {
            let t = year_fraction(valuation, flow.date, day_count);
            flow.amount * discount_factor(rate, t, compounding)
        })
        .sum()
}

/// A stream of `periods` payments, payment k (k = 1..=periods) at time k·`period_years`
/// after the start, of expected amount `amount`·(1 + `growth`)^(k − 1).
///
/// Payment k's time is the floating-point product `k as f64 * period_years` in every
/// method (so with 0.1-year periods the third payment falls a hair after 0.3). The
/// caller's contract: `period_years > 0` and `growth ≥ −1`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stream {
    /// The first payment's amount.
    pub amount: f64,
    /// The growth of the amount from one payment to the next.
    pub growth: f64,
    /// How many payments there are.
    pub periods: u32,
    /// The time between payments, in years; the first is one period after the start.
    pub period_years: f64,
}

impl Stream {
    /// How many payments are made at or before `t_years`.
    ///
    /// Payment k is made by `t` exactly when `(k as f64) * period_years <= t`, the same
    /// floating-point product everywhere, so the stream never pays a payment twice or
    /// not at all across adjacent intervals.
    fn paid_by(&self, t_years: f64) -> u32 {
        let paid = |k: u32| f64::from(k) * self.period_years <= t_years;
        if t_years.is_nan() || t_years < self.period_years {
            return 0;
        }
        let guess = (t_years / self.period_years).floor();
        let mut n = if guess >= f64::from(self.periods) {
            self.periods
        } else {
            guess as u32
        };
        // The division can be one off from the product predicate; settle on it.
        while n < self.periods && paid(n + 1) {
            n += 1;
        }
        while n > 0 && !paid(n) {
            n -= 1;
        }
        n
    }

    /// The payments still to come after `elapsed_years`.
    pub fn remaining(&self, elapsed_years: f64) -> u32 {
        self.periods - self.paid_by(elapsed_years)
    }

    /// The indices k of the payments made in (`from_years`, `to_years`]; empty when
    /// `to_years ≤ from_years`. Payment k is made at k·`period_years`.
    pub fn paid_between(&self, from_years: f64, to_years: f64) -> Range<u32> {
        let start = self.paid_by(from_years) + 1;
        let end = self.paid_by(to_years) + 1;
        start..end.max(start)
    }

    /// The value at `elapsed_years` (since the start) of the payments strictly after it,
    /// each discounted at `rate` over (its time − `elapsed_years`).
    ///
    /// Annual and continuous compounding make the discounted amounts a geometric series
    /// in k and are summed in closed form; simple compounding is summed directly. The
    /// [`discount_factor`] contract applies to every remaining payment.
    pub fn value(&self, elapsed_years: f64, rate: f64, compounding: Compounding) -> f64 {
        let paid = self.paid_by(elapsed_years);
        let left = self.periods - paid;
        if left == 0 {
            return 0.0;
        }
        // The first remaining payment is k = paid + 1, `first_wait` years away; each
        // later one is a period further.
        let first_wait = f64::from(paid + 1) * self.period_years - elapsed_years;
        let log_growth = self.growth.ln_1p();
        let grown = |n: u32| {
            // (1 + g)^0 = 1 even for g = −1, where n·ln 0 would give NaN.
            if n == 0 {
                1.0
            } else {
                (f64::from(n) * log_growth).exp()
            }
        };
        let log_discount_per_year = match compounding {
            Compounding::Annual => rate.ln_1p(),
            Compounding::Continuous => rate,
            Compounding::Simple => {
                let mut amount = self.amount * grown(paid);
                let mut total = 0.0;
                for j in 0..left {
                    let wait = first_wait + f64::from(j) * self.period_years;
                    total += amount * discount_factor(rate, wait, Compounding::Simple);
                    amount *= 1.0 + self.growth;
                }
                return total;
            }
        };
        let first = self.amount * grown(paid) * (-log_discount_per_year * first_wait).exp();
        // Ratio q = e^λ between consecutive terms; Σ_{j<m} q^j = expm1(mλ)/expm1(λ), which
        // stays accurate as q → 1 where (q^m − 1)/(q − 1) would cancel.
        let log_ratio = log_growth - log_discount_per_year * self.period_years;
        let series = if log_ratio == 0.0 {
            f64::from(left)
        } else {
            (f64::from(left) * log_ratio).exp_m1() / log_ratio.exp_m1()
        };
        first * series
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn date(year: i32, month: u32, day: u32) -> Date {
        Date::new(year, month, day).expect("valid test date")
    }

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    fn stream(amount: f64, growth: f64, periods: u32, period_years: f64) -> Stream {
        Stream {
            amount,
            growth,
            periods,
            period_years,
        }
    }

    fn flow(date: Date, amount: f64) -> CashFlow {
        CashFlow { date, amount }
    }

    const EVERY_COMPOUNDING: [Compounding; 3] = [
        Compounding::Annual,
        Compounding::Continuous,
        Compounding::Simple,
    ];

    /// The payments of a stream after `elapsed`, one by one, straight from the definition.
    fn direct_value(stream: &Stream, elapsed: f64, rate: f64, compounding: Compounding) -> f64 {
        (1..=stream.periods)
            .map(|k| (k, f64::from(k) * stream.period_years))
            .filter(|&(_, time)| time > elapsed)
            .map(|(k, time)| {
                stream.amount
                    * (1.0 + stream.growth).powi(k as i32 - 1)
                    * discount_factor(rate, time - elapsed, compounding)
            })
            .sum()
    }

    #[test]
    fn discount_factor_matches_the_textbook_vectors() {
        // 100 paid in 2 years at 5%.
        for (compounding, value) in EVERY_COMPOUNDING
            .into_iter()
            .zip([90.702948, 90.483742, 90.909091])
        {
            let discounted = 100.0 * discount_factor(0.05, 2.0, compounding);
            assert!(close(discounted, value, 1e-6));
            assert_eq!(discount_factor(0.05, 0.0, compounding), 1.0);
        }
    }

    #[test]
    fn a_three_payment_annuity_at_ten_percent_is_worth_248_685199() {
        let annuity = stream(100.0, 0.0, 3, 1.0);
        let value = annuity.value(0.0, 0.10, Compounding::Annual);
        assert!(close(value, 248.685199, 1e-6));
    }

    #[test]
    fn dates_validate_months_days_and_leap_years() {
        assert!(Date::new(2024, 2, 29).is_some() && Date::new(2000, 2, 29).is_some());
        let invalid = [
            (1900, 2, 29),
            (2026, 2, 29),
            (2026, 4, 31),
            (2026, 13, 1),
            (2026, 0, 1),
            (2026, 1, 0),
        ];
        assert!(
            invalid
                .iter()
                .all(|&(y, m, d)| Date::new(y, m, d).is_none())
        );
        assert_eq!(date(1970, 1, 1).days_since_epoch(), 0);
        assert_eq!(date(2000, 3, 1).days_since_epoch(), 11_017);
        assert_eq!(date(1969, 12, 31).days_since_epoch(), -1);
        assert_eq!(date(2024, 2, 28).add_days(1), date(2024, 2, 29));
        assert_eq!(date(2025, 12, 31).add_days(1), date(2026, 1, 1));
    }

    #[test]
    fn year_fractions_follow_the_stated_rules() {
        let act = |a, b| year_fraction(a, b, DayCount::Act365F);
        let thirty = |a, b| year_fraction(a, b, DayCount::Thirty360);
        assert_eq!(act(date(2024, 1, 1), date(2025, 1, 1)), 366.0 / 365.0);
        assert_eq!(act(date(2025, 1, 1), date(2024, 1, 1)), -366.0 / 365.0);
        assert_eq!(thirty(date(2026, 1, 31), date(2026, 3, 31)), 60.0 / 360.0);
        // D1 = 28 is not 30, so D2 = 31 stays: 30 + 3 days.
        assert_eq!(thirty(date(2026, 2, 28), date(2026, 3, 31)), 33.0 / 360.0);
        assert_eq!(thirty(date(2026, 3, 30), date(2026, 5, 31)), 60.0 / 360.0);
        assert_eq!(thirty(date(2026, 3, 15), date(2026, 5, 31)), 76.0 / 360.0);
        assert_eq!(thirty(date(2026, 3, 31), date(2026, 1, 31)), -60.0 / 360.0);
        assert_eq!(thirty(date(2025, 6, 15), date(2026, 6, 15)), 1.0);
    }

    #[test]
    fn present_value_counts_flows_after_valuation_up_to_and_including_until() {
        let flows = [
            flow(date(2025, 1, 1), 1000.0),
            flow(date(2026, 1, 1), 100.0),
            flow(date(2027, 1, 1), 100.0),
            flow(date(2028, 1, 1), 100.0),
        ];
        let pv = |until| {
            present_value(
                &flows,
                date(2025, 1, 1),
                until,
                0.10,
                Compounding::Annual,
                DayCount::Act365F,
            )
        };
        // 2025, 2026 and 2027 have 365 days, so the flows are exactly 1, 2 and 3 years out.
        assert!(close(pv(date(2028, 1, 1)), 248.685199, 1e-6));
        assert!(close(
            pv(date(2027, 12, 31)),
            100.0 / 1.1 + 100.0 / 1.21,
            1e-9
        ));
    }

    #[test]
    fn present_value_of_yearly_dates_equals_the_stream_value() {
        // Valuation dates and 365-day years make the ACT/365F year fractions equal the
        // stream's times (1, 2, 3 years, less the elapsed 182/365), the same sum.
        let start = date(2025, 1, 1);
        let flows: Vec<CashFlow> = (1..=3)
            .map(|k| CashFlow {
                date: start.add_days(365 * k),
                amount: 50.0 * 1.02f64.powi(k as i32 - 1),
            })
            .collect();
        let stream = stream(50.0, 0.02, 3, 1.0);
        for (elapsed_days, compounding) in [
            (0, Compounding::Annual),
            (182, Compounding::Continuous),
            (400, Compounding::Simple),
        ] {
            let valuation = start.add_days(elapsed_days);
            let dated = present_value(
                &flows,
                valuation,
                date(2100, 1, 1),
                0.07,
                compounding,
                DayCount::Act365F,
            );
            let streamed = stream.value(elapsed_days as f64 / 365.0, 0.07, compounding);
            assert!(
                close(dated, streamed, 1e-12 * streamed),
                "{dated} vs {streamed}"
            );
        }
    }

    #[test]
    fn stream_counts_payments_on_the_boundary_once() {
        let stream = stream(1.0, 0.0, 10, 0.1);
        assert_eq!(stream.remaining(0.0), 10);
        // 3 × 0.1 rounds above 0.3, so the third payment is not yet made at 0.3.
        assert_eq!(stream.remaining(0.3), 8);
        assert_eq!(stream.remaining(0.30000000000000004), 7);
        assert_eq!(stream.remaining(1.0), 0);
        assert_eq!(stream.remaining(5.0), 0);
        assert_eq!(stream.paid_between(0.0, 0.35), 1..4);
        assert_eq!(stream.paid_between(0.35, 0.1), 4..4);
        // Consecutive intervals tile the payments, whatever the rounding of k·0.1.
        let mut next = 1;
        for step in 1..=20 {
            let range = stream.paid_between(f64::from(step - 1) * 0.07, f64::from(step) * 0.07);
            assert_eq!(range.start, next);
            next = range.end;
        }
        assert_eq!(next, 11);
        assert_eq!(stream.value(1.0, 0.05, Compounding::Annual), 0.0);
    }

    #[test]
    fn stream_value_handles_a_ratio_of_exactly_one_and_a_vanishing_amount() {
        // Growth equal to the annual rate makes every discounted payment the same.
        let level = stream(100.0, 0.05, 7, 1.0);
        let value = level.value(0.0, 0.05, Compounding::Annual);
        assert!(close(value, 700.0 / 1.05, 1e-9), "{value}");
        let collapsing = stream(100.0, -1.0, 5, 1.0);
        assert!(close(
            collapsing.value(0.0, 0.0, Compounding::Continuous),
            100.0,
            1e-12
        ));
        assert_eq!(collapsing.value(1.5, 0.0, Compounding::Continuous), 0.0);
    }

    fn compounding_strategy() -> impl Strategy<Value = Compounding> {
        proptest::sample::select(EVERY_COMPOUNDING.to_vec())
    }

    /// Keeps 1 + r·t > 0.1 over the whole stream under simple compounding.
    fn admissible_rate(rate: f64, stream: &Stream, compounding: Compounding) -> f64 {
        let horizon = f64::from(stream.periods) * stream.period_years + stream.period_years;
        match compounding {
            Compounding::Simple => rate.max(-0.9 / horizon),
            _ => rate,
        }
    }

    proptest! {
        #[test]
        fn stream_closed_form_equals_the_direct_sum(
            amount in -1000.0f64..1000.0,
            growth in -0.5f64..0.5,
            periods in 1u32..200,
            period_years in 0.05f64..2.0,
            rate in -0.5f64..0.5,
            elapsed_share in -0.1f64..1.2,
            compounding in compounding_strategy(),
        ) {
            let stream = stream(amount, growth, periods, period_years);
            let rate = admissible_rate(rate, &stream, compounding);
            let elapsed = elapsed_share * f64::from(periods) * period_years;
            let closed = stream.value(elapsed, rate, compounding);
            let direct = direct_value(&stream, elapsed, rate, compounding);
            let scale: f64 = (1..=periods)
                .map(|k| (amount * (1.0 + growth).powi(k as i32 - 1)).abs()
                    * discount_factor(rate, (f64::from(k) * period_years - elapsed).max(0.0), compounding))
                .sum();
            prop_assert!((closed - direct).abs() <= 1e-10 * scale.max(1e-300), "{closed} vs {direct}");
        }

        #[test]
        fn stream_value_decreases_in_the_rate(
            amount in 0.01f64..1000.0,
            growth in -0.5f64..0.5,
            periods in 1u32..200,
            period_years in 0.05f64..2.0,
            rate in -0.5f64..0.49,
            step in 1e-3f64..0.5,
            elapsed_share in 0.0f64..0.99,
            compounding in compounding_strategy(),
        ) {
            let stream = stream(amount, growth, periods, period_years);
            let low = admissible_rate(rate, &stream, compounding);
            let elapsed = elapsed_share * f64::from(periods) * period_years;
            prop_assume!(stream.remaining(elapsed) > 0);
            let high = low + step;
            prop_assert!(stream.value(elapsed, high, compounding) < stream.value(elapsed, low, compounding));
        }

        #[test]
        fn discount_factor_decreases_in_time_for_positive_rates(
            rate in 1e-3f64..0.5,
            t in 0.0f64..50.0,
            step in 1e-3f64..10.0,
            compounding in compounding_strategy(),
        ) {
            let sooner = discount_factor(rate, t, compounding);
            let later = discount_factor(rate, t + step, compounding);
            prop_assert!(later < sooner && later > 0.0 && sooner <= 1.0);
        }

        #[test]
        fn dates_round_trip_through_days(days in -1_000_000i64..1_000_000, shift in -100_000i64..100_000) {
            let epoch = date(1970, 1, 1);
            let d = epoch.add_days(days);
            prop_assert!(Date::new(d.year, d.month, d.day).is_some());
            prop_assert_eq!(d.days_since_epoch(), days);
            prop_assert_eq!(d.add_days(shift).days_since_epoch(), days + shift);
            prop_assert_eq!(d.add_days(1) > d, true);
        }
    }
}
