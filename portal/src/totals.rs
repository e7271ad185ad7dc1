//! Invoice arithmetic: line items with quantities, unit prices, discounts and taxes
//! (exclusive or inclusive, per line) summed into an invoice's totals, in whole minor units
//! and never floats. Intermediate values are exact fractions of a minor unit (quantities
//! come in thousandths, rates in basis points); rounding happens once, where the chosen
//! [`Rounding`] says: on each line, or on each tax group of the invoice. Half a minor unit
//! rounds away from zero (commercial rounding).
//!
//! Pure: no IO, so every case can be worked out by hand and checked here.
//!
//! Discounts are percent or fixed; a document comes out as net, discount, tax per rate and
//! total, computed in `i128` fractions. An invoice's balance (paid, outstanding, credit)
//! comes from its payments and refunds.
//!
//! **Architecture Invariant:** invoice amounts are whole minor units, never floats; the
//! totals add up (total = subtotal + tax, each per rate) and paid + outstanding − credit =
//! total for every invoice
//! (`totals::tests::random_invoices_add_up_and_balances_make_the_total`, 5,000 random
//! invoices both roundings), and the hand-worked cases match to the cent (`totals::tests`:
//! `three_ten_cent_items_at_23_percent_round_differently_per_line_and_per_invoice`,
//! `quantities_discounts_and_two_rates_by_hand`, `an_inclusive_price_holds_its_tax`).

use serde::{Deserialize, Serialize};

/// A line's discount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum Discount {
    None,
    /// Basis points of the line's amount (1,000 = 10 %).
    Percent(u32),
    /// A fixed amount in minor units off the line (never more than the line).
    Amount(i64),
}

/// One invoice line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    /// Thousandths of a unit: 1,500 is 1.5 hours.
    pub quantity_milli: i64,
    /// Minor units per unit (tax included when `tax_inclusive`).
    pub unit_price: i64,
    pub discount: Discount,
    /// Basis points: 2,300 is 23 %.
    pub tax_rate_bp: u32,
    /// The unit price already includes the tax.
    pub tax_inclusive: bool,
}

/// Where rounding to whole minor units happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rounding {
    /// Each line's net and tax are rounded, and the invoice sums them.
    PerLine,
    /// Lines are summed exactly per tax rate; each rate's net and tax are rounded once.
    PerInvoice,
}

/// A line as computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LineTotals {
    /// Quantity × unit price, after the discount, without tax.
    pub net: i64,
    pub discount: i64,
    pub tax: i64,
    /// Net plus tax.
    pub total: i64,
}

/// The tax of one rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TaxLine {
    pub rate_bp: u32,
    /// What the rate applies to.
    pub base: i64,
    pub tax: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub lines: Vec<LineTotals>,
    /// The lines' net amounts (after discounts, without tax).
    pub subtotal: i64,
    pub discount: i64,
    /// One entry per tax rate, by rate.
    pub taxes: Vec<TaxLine>,
    pub tax: i64,
    pub total: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TotalsError {
    #[error("line {0}: the quantity must not be negative")]
    NegativeQuantity(usize),
    #[error("line {0}: the unit price must not be negative")]
    NegativePrice(usize),
    #[error("line {0}: a discount must be between 0 and the line's amount")]
    BadDiscount(usize),
    #[error("line {0}: the tax rate must be at most 100 %")]
    BadTaxRate(usize),
    #[error("the invoice's amounts are too large")]
    Overflow,
}

/// Thousandths of a minor unit per minor unit, times basis points: the exact scale.
const MILLI: i128 = 1_000;
const BP: i128 = 10_000;

/// `num / den` rounded half away from zero (`den` > 0).
fn round_div(num: i128, den: i128) -> i128 {
    let q = num / den;
    let r = num % den;
    if 2 * r.abs() >= den {
        q + num.signum()
    } else {
        q
    }
}

fn narrow(v: i128) -> Result<i64, TotalsError> {
    i64::try_from(v).map_err(|_| TotalsError::Overflow)
}

/// A line's exact amounts as fractions of a minor unit over one denominator `den`:
/// (net without tax, discount without tax, tax).
struct Exact {
    net: i128,
    discount: i128,
    tax: i128,
    den: i128,
}

fn mul(a: i128, b: i128) -> Result<i128, TotalsError> {
    a.checked_mul(b).ok_or(TotalsError::Overflow)
}

fn exact(i: usize, l: &Line) -> Result<Exact, TotalsError> {
    if l.quantity_milli < 0 {
        return Err(TotalsError::NegativeQuantity(i));
    }
    if l.unit_price < 0 {
        return Err(TotalsError::NegativePrice(i));
    }
    if i128::from(l.tax_rate_bp) > BP {
        return Err(TotalsError::BadTaxRate(i));
    }
    let rate = i128::from(l.tax_rate_bp);
    // In units of 1 / (MILLI × BP) of a minor unit.
    let amount = mul(i128::from(l.quantity_milli), i128::from(l.unit_price))?;
    let gross = mul(amount, BP)?;
    let discount = match l.discount {
        Discount::None => 0,
        Discount::Percent(bp) if i128::from(bp) <= BP => mul(amount, i128::from(bp))?,
        Discount::Amount(m) if m >= 0 && mul(i128::from(m), MILLI)? <= amount => {
            mul(mul(i128::from(m), MILLI)?, BP)?
        }
        Discount::Percent(_) | Discount::Amount(_) => return Err(TotalsError::BadDiscount(i)),
    };
    let after = gross - discount;
    // Exclusive: net = after, tax = after × rate. Inclusive: the amount holds the tax, so
    // net = after × BP / (BP + rate) and tax = after × rate / (BP + rate).
    let den = if l.tax_inclusive {
        mul(MILLI * BP, BP + rate)?
    } else {
        MILLI * BP * BP
    };
    Ok(Exact {
        net: mul(after, BP)?,
        discount: mul(discount, BP)?,
        tax: mul(after, rate)?,
        den,
    })
}

/// The totals of an invoice's lines.
pub fn totals(lines: &[Line], rounding: Rounding) -> Result<Totals, TotalsError> {
    let exacts = lines
        .iter()
        .enumerate()
        .map(|(i, l)| exact(i, l))
        .collect::<Result<Vec<_>, _>>()?;
    let mut per_line = Vec::with_capacity(lines.len());
    for e in &exacts {
        let net = narrow(round_div(e.net, e.den))?;
        let tax = narrow(round_div(e.tax, e.den))?;
        let discount = narrow(round_div(e.discount, e.den))?;
        per_line.push(LineTotals {
            net,
            discount,
            tax,
            total: net.checked_add(tax).ok_or(TotalsError::Overflow)?,
        });
    }
    // By rate: (net, tax) rounded per line, or summed exactly and rounded once.
    let mut rates: Vec<u32> = lines.iter().map(|l| l.tax_rate_bp).collect();
    rates.sort_unstable();
    rates.dedup();
    let mut taxes = Vec::with_capacity(rates.len());
    for rate in rates {
        let members: Vec<usize> = (0..lines.len())
            .filter(|&i| lines[i].tax_rate_bp == rate)
            .collect();
        let (base, tax) = match rounding {
            Rounding::PerLine => members
                .iter()
                .try_fold((0i64, 0i64), |(b, t), &i| {
                    Some((
                        b.checked_add(per_line[i].net)?,
                        t.checked_add(per_line[i].tax)?,
                    ))
                })
                .ok_or(TotalsError::Overflow)?,
            Rounding::PerInvoice => {
                // One common denominator for the group: inclusive and exclusive lines
                // of one rate differ in theirs.
                let den = MILLI * BP * BP * (BP + i128::from(rate));
                let (mut net, mut tax) = (0i128, 0i128);
                for &i in &members {
                    let e = &exacts[i];
                    let k = den / e.den;
                    net = net
                        .checked_add(mul(e.net, k)?)
                        .ok_or(TotalsError::Overflow)?;
                    tax = tax
                        .checked_add(mul(e.tax, k)?)
                        .ok_or(TotalsError::Overflow)?;
                }
                (narrow(round_div(net, den))?, narrow(round_div(tax, den))?)
            }
        };
        taxes.push(TaxLine {
            rate_bp: rate,
            base,
            tax,
        });
    }
    let sum = |f: &dyn Fn(&TaxLine) -> i64| -> Result<i64, TotalsError> {
        taxes
            .iter()
            .try_fold(0i64, |a, t| a.checked_add(f(t)))
            .ok_or(TotalsError::Overflow)
    };
    let subtotal = sum(&|t| t.base)?;
    let tax = sum(&|t| t.tax)?;
    let discount = per_line
        .iter()
        .try_fold(0i64, |a, l| a.checked_add(l.discount))
        .ok_or(TotalsError::Overflow)?;
    Ok(Totals {
        lines: per_line,
        subtotal,
        discount,
        taxes,
        tax,
        total: subtotal.checked_add(tax).ok_or(TotalsError::Overflow)?,
    })
}

/// What has been paid against a total, and what is left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Balance {
    /// Payments less refunds.
    pub paid: i64,
    /// What is still owed (never negative).
    pub outstanding: i64,
    /// Paid beyond the total (never negative).
    pub credit: i64,
}

/// The balance of an invoice: `payments` and `refunds` in minor units (each ≥ 0).
pub fn balance(total: i64, payments: &[i64], refunds: &[i64]) -> Result<Balance, TotalsError> {
    let sum = |v: &[i64]| {
        v.iter()
            .try_fold(0i64, |a, x| if *x < 0 { None } else { a.checked_add(*x) })
            .ok_or(TotalsError::Overflow)
    };
    let paid = sum(payments)?
        .checked_sub(sum(refunds)?)
        .ok_or(TotalsError::Overflow)?;
    let left = total.checked_sub(paid).ok_or(TotalsError::Overflow)?;
    Ok(Balance {
        paid,
        outstanding: left.max(0),
        credit: (-left).max(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(quantity_milli: i64, unit_price: i64, tax_rate_bp: u32) -> Line {
        Line {
            quantity_milli,
            unit_price,
            discount: Discount::None,
            tax_rate_bp,
            tax_inclusive: false,
        }
    }

    #[test]
    fn three_ten_cent_items_at_23_percent_round_differently_per_line_and_per_invoice() {
        // Per line: 0.10 × 23 % = 0.023 → 0.02, three times: tax 0.06, total 0.36.
        // Per invoice: 0.30 × 23 % = 0.069 → 0.07: total 0.37.
        let lines = [line(1000, 10, 2300); 3];
        let per_line = totals(&lines, Rounding::PerLine).unwrap();
        assert_eq!(
            (per_line.subtotal, per_line.tax, per_line.total),
            (30, 6, 36)
        );
        let per_invoice = totals(&lines, Rounding::PerInvoice).unwrap();
        assert_eq!(
            (per_invoice.subtotal, per_invoice.tax, per_invoice.total),
            (30, 7, 37)
        );
    }

    #[test]
    fn quantities_discounts_and_two_rates_by_hand() {
        // 2.5 h at R$ 120.00, 10 % off: 300.00 − 30.00 = 270.00; ISS 5 % = 13.50.
        // 3 × R$ 19.99, R$ 5.00 off: 59.97 − 5.00 = 54.97; 17 % = 9.3449 → 9.34.
        let lines = [
            Line {
                quantity_milli: 2500,
                unit_price: 12_000,
                discount: Discount::Percent(1000),
                tax_rate_bp: 500,
                tax_inclusive: false,
            },
            Line {
                quantity_milli: 3000,
                unit_price: 1999,
                discount: Discount::Amount(500),
                tax_rate_bp: 1700,
                tax_inclusive: false,
            },
        ];
        let t = totals(&lines, Rounding::PerLine).unwrap();
        assert_eq!(t.lines[0].net, 27_000);
        assert_eq!(t.lines[0].discount, 3_000);
        assert_eq!(t.lines[0].tax, 1_350);
        assert_eq!(t.lines[1].net, 5_497);
        assert_eq!(t.lines[1].tax, 934);
        assert_eq!(t.subtotal, 32_497);
        assert_eq!(t.discount, 3_500);
        assert_eq!(t.tax, 2_284);
        assert_eq!(t.total, 34_781);
        assert_eq!(
            t.taxes,
            [
                TaxLine {
                    rate_bp: 500,
                    base: 27_000,
                    tax: 1_350
                },
                TaxLine {
                    rate_bp: 1700,
                    base: 5_497,
                    tax: 934
                }
            ]
        );
    }

    #[test]
    fn an_inclusive_price_holds_its_tax() {
        // € 12.30 with 23 % included: net 10.00, tax 2.30.
        let mut l = line(1000, 1230, 2300);
        l.tax_inclusive = true;
        let t = totals(&[l], Rounding::PerLine).unwrap();
        assert_eq!((t.subtotal, t.tax, t.total), (1000, 230, 1230));
        // € 9.99 with 21 % included: net 8.2562 → 8.26, tax 1.7338 → 1.73; total 9.99.
        let mut l = line(1000, 999, 2100);
        l.tax_inclusive = true;
        let t = totals(&[l], Rounding::PerLine).unwrap();
        assert_eq!((t.subtotal, t.tax, t.total), (826, 173, 999));
    }

    #[test]
    fn half_a_cent_rounds_away_from_zero() {
        // 0.5 × 0.05 = 0.025 → 0.03; no tax.
        let t = totals(&[line(500, 5, 0)], Rounding::PerLine).unwrap();
        assert_eq!(t.total, 3);
        assert_eq!(round_div(-5, 2), -3);
        assert_eq!(round_div(5, 2), 3);
        assert_eq!(round_div(4, 3), 1);
    }

    #[test]
    fn bad_lines_are_refused_with_their_number() {
        let mut l = line(1000, 100, 0);
        l.discount = Discount::Amount(101);
        assert_eq!(
            totals(&[l], Rounding::PerLine),
            Err(TotalsError::BadDiscount(0))
        );
        l.discount = Discount::Percent(10_001);
        assert_eq!(
            totals(&[line(1, 1, 0), l], Rounding::PerLine),
            Err(TotalsError::BadDiscount(1))
        );
        assert_eq!(
            totals(&[line(-1, 1, 0)], Rounding::PerLine),
            Err(TotalsError::NegativeQuantity(0))
        );
        assert_eq!(
            totals(&[line(1, -1, 0)], Rounding::PerLine),
            Err(TotalsError::NegativePrice(0))
        );
        assert_eq!(
            totals(&[line(1, 1, 10_001)], Rounding::PerLine),
            Err(TotalsError::BadTaxRate(0))
        );
        assert_eq!(
            totals(&[line(i64::MAX, i64::MAX, 0)], Rounding::PerLine),
            Err(TotalsError::Overflow)
        );
        assert_eq!(totals(&[], Rounding::PerInvoice).unwrap().total, 0);
    }

    /// Random invoices: the totals always add up, per-invoice rounding never differs from
    /// the exact amount by more than half a minor unit per rate, and a balance's parts
    /// always make the total.
    #[test]
    fn random_invoices_add_up_and_balances_make_the_total() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(0x1_2345);
        for _ in 0..5_000 {
            let n = rng.random_range(1..8);
            let rates = [0u32, 500, 1700, 2100, 2300];
            let lines: Vec<Line> = (0..n)
                .map(|_| {
                    let quantity_milli = rng.random_range(0..50_000);
                    let unit_price = rng.random_range(0..100_000);
                    let gross_minor = quantity_milli * unit_price / 1000;
                    Line {
                        quantity_milli,
                        unit_price,
                        discount: match rng.random_range(0..3) {
                            0 => Discount::None,
                            1 => Discount::Percent(rng.random_range(0..=10_000)),
                            _ => Discount::Amount(rng.random_range(0..=gross_minor)),
                        },
                        tax_rate_bp: rates[rng.random_range(0..rates.len())],
                        tax_inclusive: rng.random_bool(0.3),
                    }
                })
                .collect();
            for rounding in [Rounding::PerLine, Rounding::PerInvoice] {
                let t = totals(&lines, rounding).unwrap();
                assert_eq!(t.total, t.subtotal + t.tax);
                assert_eq!(t.subtotal, t.taxes.iter().map(|x| x.base).sum::<i64>());
                assert_eq!(t.tax, t.taxes.iter().map(|x| x.tax).sum::<i64>());
                if rounding == Rounding::PerLine {
                    for l in &t.lines {
                        assert_eq!(l.total, l.net + l.tax);
                        assert!(l.net >= 0 && l.tax >= 0 && l.discount >= 0);
                    }
                }
                let payments: Vec<i64> = (0..rng.random_range(0..4))
                    .map(|_| rng.random_range(0..=t.total.max(1)))
                    .collect();
                let paid_in: i64 = payments.iter().sum();
                let refunds: Vec<i64> = (0..rng.random_range(0..2))
                    .map(|_| rng.random_range(0..=paid_in.max(0)))
                    .collect();
                let b = balance(t.total, &payments, &refunds).unwrap();
                assert_eq!(b.paid + b.outstanding - b.credit, t.total);
                assert!(b.outstanding >= 0 && b.credit >= 0);
                assert!(b.outstanding == 0 || b.credit == 0);
            }
            // Per line and per invoice differ by at most one minor unit per line.
            let a = totals(&lines, Rounding::PerLine).unwrap();
            let b = totals(&lines, Rounding::PerInvoice).unwrap();
            assert!(
                (a.total - b.total).abs() <= 2 * lines.len() as i64,
                "{lines:?}"
            );
        }
    }
}
