//! A copier contract's period: its dates, the copies each counter made (from readings, or
//! estimated and later trued up), the copies the contract includes (pooled across its
//! machines or per machine), and the extra copies priced by tier, as invoice lines for
//! [`crate::totals`].
//!
//! Pure: no IO, whole numbers only. Prices are per thousand copies in minor units, so an
//! extra copy at R$ 0,035 is `per_thousand: 3_500`; an invoice line carries the copies as
//! its quantity in thousandths (`quantity_milli` = copies) and that price as its unit
//! price, and [`crate::totals`] rounds once.
//!
//! **Every copy is billed once.** A counter is billed "up to" a value. A period with a
//! reading bills from there to the reading; one without bills an estimate (the average
//! volume for its days) and is marked estimated; the next reading bills from the estimate
//! on. When an estimate ran ahead of the counter, nothing is billed until the counter
//! passes it: never negative copies, never a copy twice
//! (`overage::tests::random_readings_bill_every_copy_once_and_never_negative`).
//!
//! Hand-worked cases: `overage::tests` (pooled and per machine, tiers, a missing reading
//! then its true-up, a machine swapped mid-period).

use serde::{Deserialize, Serialize};

use crate::locale::{civil, day_of};
use crate::readings::Counter;
use crate::totals::{Discount, Line};

/// How often a contract bills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Monthly,
    Quarterly,
}

impl Period {
    pub fn months(self) -> i64 {
        match self {
            Period::Monthly => 1,
            Period::Quarterly => 3,
        }
    }
}

fn month_days(y: i64, m: u32) -> u32 {
    let next = if m == 12 {
        day_of(y + 1, 1, 1)
    } else {
        day_of(y, m + 1, 1)
    };
    (next - day_of(y, m, 1)) as u32
}

/// `months` calendar months after a day; the day of the month is kept, or the month's
/// last day when it has fewer (31 January + 1 month = 28 or 29 February).
pub fn add_months(day: i64, months: i64) -> i64 {
    let (y, m, d) = civil(day);
    let total = y * 12 + i64::from(m - 1) + months;
    let (ny, nm) = (total.div_euclid(12), (total.rem_euclid(12) + 1) as u32);
    day_of(ny, nm, d.min(month_days(ny, nm)))
}

/// The `n`th period (from 0) of a contract that starts on `start`: `[from, to)` in day
/// numbers. Counted from the start each time, so short months never shift later periods.
pub fn period(start: i64, every: Period, n: i64) -> (i64, i64) {
    let k = every.months();
    (add_months(start, n * k), add_months(start, (n + 1) * k))
}

/// The number of the period that holds `day` (`None` before the start).
pub fn period_of(start: i64, every: Period, day: i64) -> Option<i64> {
    if day < start {
        return None;
    }
    let (sy, sm, _) = civil(start);
    let (y, m, _) = civil(day);
    let months = (y - sy) * 12 + i64::from(m) - i64::from(sm);
    let mut n = (months / every.months()).max(0);
    // The estimate is off by at most one period either way.
    while period(start, every, n).0 > day {
        n -= 1;
    }
    while period(start, every, n).1 <= day {
        n += 1;
    }
    Some(n)
}

/// Days before the reading day a reminder may go.
pub const REMIND_AHEAD: i64 = 3;
/// A reading this many days before the reading day still counts for it.
pub const READING_SLACK: i64 = 7;

/// A period whose readings a client is to be reminded of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadingDue {
    /// The period's number.
    pub n: i64,
    /// The day the counters are to be read (`read_before` days before the period ends).
    pub by: i64,
    /// The period's end (exclusive).
    pub ends: i64,
}

/// Whether `today` falls in a period's reminder span: from [`REMIND_AHEAD`] days before
/// its reading day until the period ends. `read_before` is the contract's; a contract
/// that has ended, or not yet begun, reminds of nothing.
pub fn reading_due(
    start: i64,
    every: Period,
    end: Option<i64>,
    read_before: i64,
    today: i64,
) -> Option<ReadingDue> {
    if end.is_some_and(|e| today >= e) {
        return None;
    }
    let n = period_of(start, every, today)?;
    let (_, mut ends) = period(start, every, n);
    if let Some(e) = end {
        ends = ends.min(e);
    }
    let by = ends - read_before.clamp(0, 60);
    (today >= by - REMIND_AHEAD && today < ends).then_some(ReadingDue { n, by, ends })
}

/// Whether a machine still needs reading for a reading day, given its last reading's day.
pub fn needs_reading(last: Option<i64>, by: i64) -> bool {
    last.is_none_or(|day| day < by - READING_SLACK)
}

/// One counter's copies in a period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Used {
    pub copies: i64,
    /// From an estimate, not a reading.
    pub estimated: bool,
    /// The counter value billed up to after this period.
    pub up_to: i64,
}

/// The copies a counter made in a period: from `billed_up_to` to the reading at the
/// period's end, or, without one, `estimate` copies (marked estimated). A reading below
/// what was already billed (an estimate that ran ahead) bills nothing and keeps the mark.
pub fn used(billed_up_to: i64, reading: Option<i64>, estimate: i64) -> Used {
    match reading {
        Some(r) => {
            let copies = (r - billed_up_to).max(0);
            Used {
                copies,
                estimated: false,
                up_to: billed_up_to + copies,
            }
        }
        None => {
            let copies = estimate.max(0);
            Used {
                copies,
                estimated: true,
                up_to: billed_up_to + copies,
            }
        }
    }
}

/// The estimate for `days` days at a monthly (30-day) average.
pub fn estimate(monthly_average: Option<i64>, days: i64) -> i64 {
    monthly_average.map_or(0, |a| a.max(0) * days.max(0) / 30)
}

/// A band of extra copies: from `from` extra copies on, each thousand costs `per_thousand`
/// minor units (until the next band's `from`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tier {
    pub from: i64,
    pub per_thousand: i64,
}

/// What a contract includes of one counter, and the price of the copies beyond.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allowance {
    pub counter: Counter,
    /// Copies included per period: for the whole contract when pooled, for each machine
    /// otherwise.
    pub included: i64,
    /// The bands, the first from 0, ascending.
    pub tiers: Vec<Tier>,
}

/// Whether the included copies are shared by the contract's machines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pooling {
    Pooled,
    PerMachine,
}

/// A contract's terms for extra copies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Terms {
    pub pooling: Pooling,
    pub allowances: Vec<Allowance>,
    /// The tax on extra copies, in basis points.
    pub tax_rate_bp: u32,
}

/// The copies of one machine's counter in the period. `slot` is its place in the contract:
/// a machine swapped mid-period shares its predecessor's slot (and allowance).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MachineUse {
    pub slot: String,
    pub machine: String,
    pub counter: Counter,
    pub used: Used,
}

/// The copies of one band.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Band {
    pub from: i64,
    pub copies: i64,
    pub per_thousand: i64,
}

/// One step of the calculation, as the client and the agent see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub counter: Counter,
    /// The slot, per machine; `None` when pooled.
    pub slot: Option<String>,
    /// The machines whose copies these are.
    pub machines: Vec<String>,
    pub used: i64,
    /// Some of the copies are estimated.
    pub estimated: bool,
    pub included: i64,
    pub extra: i64,
    pub bands: Vec<Band>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OverageError {
    #[error("the {0} allowance's bands must start at 0 and go up")]
    Tiers(&'static str),
    #[error("the {0} allowance has a negative number or price")]
    Negative(&'static str),
    #[error("{0} copies of {1} are negative")]
    NegativeUse(String, &'static str),
}

/// Splits extra copies into the bands.
fn bands(extra: i64, tiers: &[Tier]) -> Vec<Band> {
    let mut out = Vec::new();
    for (i, t) in tiers.iter().enumerate() {
        let end = tiers.get(i + 1).map_or(i64::MAX, |n| n.from);
        let copies = (extra.min(end) - t.from).max(0);
        if copies > 0 {
            out.push(Band {
                from: t.from,
                copies,
                per_thousand: t.per_thousand,
            });
        }
    }
    out
}

/// The period's calculation: per counter of the terms, the copies used (per slot, or
/// pooled), the included copies, and the extra copies per band. Counters the terms do not
/// price are left out.
pub fn overage(terms: &Terms, uses: &[MachineUse]) -> Result<Vec<Step>, OverageError> {
    let mut steps = Vec::new();
    for a in &terms.allowances {
        let name = a.counter.as_str();
        if a.included < 0 || a.tiers.iter().any(|t| t.per_thousand < 0) {
            return Err(OverageError::Negative(name));
        }
        if a.tiers.first().is_some_and(|t| t.from != 0)
            || a.tiers.windows(2).any(|w| w[1].from <= w[0].from)
        {
            return Err(OverageError::Tiers(name));
        }
        let mine: Vec<&MachineUse> = uses.iter().filter(|u| u.counter == a.counter).collect();
        if let Some(u) = mine.iter().find(|u| u.used.copies < 0) {
            return Err(OverageError::NegativeUse(u.machine.clone(), name));
        }
        let mut groups: Vec<(Option<String>, Vec<&MachineUse>)> = Vec::new();
        match terms.pooling {
            Pooling::Pooled => groups.push((None, mine)),
            Pooling::PerMachine => {
                for u in mine {
                    match groups.iter_mut().find(|g| g.0.as_deref() == Some(&u.slot)) {
                        Some(g) => g.1.push(u),
                        None => groups.push((Some(u.slot.clone()), vec![u])),
                    }
                }
            }
        }
        for (slot, group) in groups {
            let used: i64 = group.iter().map(|u| u.used.copies).sum();
            let extra = (used - a.included).max(0);
            let mut machines: Vec<String> = group.iter().map(|u| u.machine.clone()).collect();
            machines.dedup();
            steps.push(Step {
                counter: a.counter,
                slot,
                machines,
                used,
                estimated: group.iter().any(|u| u.used.estimated),
                included: a.included,
                extra,
                bands: bands(extra, &a.tiers),
            });
        }
    }
    Ok(steps)
}

/// The invoice lines of a calculation: one per band, `quantity_milli` = copies and
/// `unit_price` = the price per thousand.
pub fn invoice_lines(steps: &[Step], tax_rate_bp: u32) -> Vec<Line> {
    steps
        .iter()
        .flat_map(|s| s.bands.iter())
        .map(|b| Line {
            quantity_milli: b.copies,
            unit_price: b.per_thousand,
            discount: Discount::None,
            tax_rate_bp,
            tax_inclusive: false,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::totals::{Rounding, totals};

    #[test]
    fn reminders_fall_a_few_days_before_the_reading_day_until_the_period_ends() {
        let d = |y, m, dd| day_of(y, m, dd);
        let start = d(2026, 1, 1);
        // Monthly, read 3 days before the end: November's reading day is 28 November.
        let due = |today| reading_due(start, Period::Monthly, None, 3, today);
        assert_eq!(due(d(2026, 11, 24)), None);
        assert_eq!(
            due(d(2026, 11, 25)),
            Some(ReadingDue {
                n: 10,
                by: d(2026, 11, 28),
                ends: d(2026, 12, 1)
            })
        );
        assert_eq!(due(d(2026, 11, 30)).map(|r| r.n), Some(10));
        assert_eq!(due(d(2026, 12, 1)), None);
        // Before the start, after the end: nothing.
        assert_eq!(due(d(2025, 12, 30)), None);
        assert_eq!(
            reading_due(
                start,
                Period::Monthly,
                Some(d(2026, 6, 1)),
                3,
                d(2026, 6, 2)
            ),
            None
        );
        // A contract ending mid-period reminds before its own end.
        assert_eq!(
            reading_due(
                start,
                Period::Quarterly,
                Some(d(2026, 2, 15)),
                0,
                d(2026, 2, 12)
            )
            .map(|r| r.ends),
            Some(d(2026, 2, 15))
        );
        // A reading in the week before the reading day counts; an older one does not.
        let by = d(2026, 11, 28);
        assert!(needs_reading(None, by));
        assert!(needs_reading(Some(by - 8), by));
        assert!(!needs_reading(Some(by - 7), by));
        assert!(!needs_reading(Some(by + 1), by));
    }

    #[test]
    fn calendar_periods_keep_to_the_start_day() {
        let d = |y, m, dd| day_of(y, m, dd);
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(civil(d(2024, 2, 29)), (2024, 2, 29));
        for day in [-1000, 0, 11_016, 19_782, 20_000, 30_000] {
            let (y, m, dd) = civil(day);
            assert_eq!(day_of(y, m, dd), day);
        }
        // 31 January: February ends the 29th (2024), March comes back to the 31st.
        let start = d(2024, 1, 31);
        assert_eq!(period(start, Period::Monthly, 0), (start, d(2024, 2, 29)));
        assert_eq!(
            period(start, Period::Monthly, 1),
            (d(2024, 2, 29), d(2024, 3, 31))
        );
        assert_eq!(
            period(start, Period::Quarterly, 1),
            (d(2024, 4, 30), d(2024, 7, 31))
        );
        assert_eq!(period_of(start, Period::Monthly, d(2024, 3, 30)), Some(1));
        assert_eq!(period_of(start, Period::Monthly, d(2024, 3, 31)), Some(2));
        assert_eq!(period_of(start, Period::Quarterly, d(2025, 1, 30)), Some(3));
        assert_eq!(period_of(start, Period::Monthly, d(2024, 1, 30)), None);
        // Every day of five years lies in exactly the period period_of names.
        let s = d(2023, 8, 31);
        for day in s..s + 5 * 366 {
            for every in [Period::Monthly, Period::Quarterly] {
                let n = period_of(s, every, day).unwrap();
                let (from, to) = period(s, every, n);
                assert!(from <= day && day < to, "{day} {every:?} {n}");
            }
        }
    }

    fn tiers() -> Vec<Tier> {
        // R$ 0,035 a copy for the first 5,000 extra, R$ 0,025 after.
        vec![
            Tier {
                from: 0,
                per_thousand: 3_500,
            },
            Tier {
                from: 5_000,
                per_thousand: 2_500,
            },
        ]
    }

    fn u(slot: &str, machine: &str, counter: Counter, copies: i64, estimated: bool) -> MachineUse {
        MachineUse {
            slot: slot.into(),
            machine: machine.into(),
            counter,
            used: Used {
                copies,
                estimated,
                up_to: copies,
            },
        }
    }

    #[test]
    fn pooled_and_per_machine_by_hand() {
        let terms = |pooling| Terms {
            pooling,
            allowances: vec![Allowance {
                counter: Counter::Mono,
                included: 10_000,
                tiers: tiers(),
            }],
            tax_rate_bp: 0,
        };
        // Machine A made 18,000 copies, B 4,000.
        let uses = [
            u("1", "A", Counter::Mono, 18_000, false),
            u("2", "B", Counter::Mono, 4_000, false),
            u("2", "B", Counter::Colour, 900, false),
        ];
        // Pooled: 22,000 − 10,000 = 12,000 extra: 5,000 × 0,035 + 7,000 × 0,025 = 175 + 175.
        let pooled = overage(&terms(Pooling::Pooled), &uses).unwrap();
        assert_eq!(pooled.len(), 1, "colour is not priced");
        assert_eq!((pooled[0].used, pooled[0].extra), (22_000, 12_000));
        let t = totals(&invoice_lines(&pooled, 0), Rounding::PerLine).unwrap();
        assert_eq!(t.total, 35_000);
        // Per machine: A 8,000 extra (175 + 75 = 250,00), B none.
        let each = overage(&terms(Pooling::PerMachine), &uses).unwrap();
        assert_eq!(each.len(), 2);
        assert_eq!((each[0].extra, each[1].extra), (8_000, 0));
        let t = totals(&invoice_lines(&each, 0), Rounding::PerLine).unwrap();
        assert_eq!(t.total, 25_000);
        // Fractions of a cent round once per line: 333 copies at R$ 0,035 = R$ 11,655 → 11,66.
        let few = [u("1", "A", Counter::Mono, 10_333, false)];
        let t = totals(
            &invoice_lines(&overage(&terms(Pooling::Pooled), &few).unwrap(), 0),
            Rounding::PerLine,
        )
        .unwrap();
        assert_eq!(t.total, 1_166);
    }

    #[test]
    fn a_missing_reading_is_estimated_then_trued_up() {
        // Billed up to 40,000. Month 1 has no reading: 3,000 a month estimated for 30 days.
        let m1 = used(40_000, None, estimate(Some(3_000), 30));
        assert_eq!(
            m1,
            Used {
                copies: 3_000,
                estimated: true,
                up_to: 43_000
            }
        );
        // Month 2's reading says 47,500: 4,500 more than billed, the true-up included.
        let m2 = used(m1.up_to, Some(47_500), 0);
        assert_eq!(
            m2,
            Used {
                copies: 4_500,
                estimated: false,
                up_to: 47_500
            }
        );
        assert_eq!(m1.copies + m2.copies, 7_500, "every copy once");
        // An estimate that ran ahead: the next reading below it bills nothing, and the
        // one after bills only beyond it.
        let ahead = used(50_000, None, 9_000);
        let low = used(ahead.up_to, Some(57_000), 0);
        assert_eq!((low.copies, low.up_to), (0, 59_000));
        let later = used(low.up_to, Some(60_000), 0);
        assert_eq!(later.copies, 1_000);
        assert_eq!(ahead.copies + low.copies + later.copies, 10_000);
        // The calculation marks estimated copies.
        let step = &overage(
            &Terms {
                pooling: Pooling::Pooled,
                allowances: vec![Allowance {
                    counter: Counter::Mono,
                    included: 0,
                    tiers: tiers(),
                }],
                tax_rate_bp: 0,
            },
            &[MachineUse {
                slot: "1".into(),
                machine: "A".into(),
                counter: Counter::Mono,
                used: m1,
            }],
        )
        .unwrap()[0];
        assert!(step.estimated);
    }

    #[test]
    fn a_machine_swapped_mid_period_keeps_its_slot() {
        // Slot 1: A made 6,000 until it was removed, B 5,000 after it was installed;
        // per machine with 10,000 included: 1,000 extra, not 0 + 0.
        let terms = Terms {
            pooling: Pooling::PerMachine,
            allowances: vec![Allowance {
                counter: Counter::Mono,
                included: 10_000,
                tiers: tiers(),
            }],
            tax_rate_bp: 2_300,
        };
        let uses = [
            u("1", "A", Counter::Mono, 6_000, false),
            u("1", "B", Counter::Mono, 5_000, false),
            u("2", "C", Counter::Mono, 2_000, false),
        ];
        let steps = overage(&terms, &uses).unwrap();
        assert_eq!(steps[0].machines, vec!["A".to_owned(), "B".to_owned()]);
        assert_eq!((steps[0].used, steps[0].extra), (11_000, 1_000));
        assert_eq!(steps[1].extra, 0);
        // 1,000 × R$ 0,035 = R$ 35,00 + 23 % = R$ 43,05.
        let t = totals(&invoice_lines(&steps, terms.tax_rate_bp), Rounding::PerLine).unwrap();
        assert_eq!(t.total, 4_305);
    }

    #[test]
    fn bad_terms_are_named() {
        let bad = |tiers: Vec<Tier>, included| Terms {
            pooling: Pooling::Pooled,
            allowances: vec![Allowance {
                counter: Counter::Colour,
                included,
                tiers,
            }],
            tax_rate_bp: 0,
        };
        let one = |from, per_thousand| Tier { from, per_thousand };
        assert_eq!(
            overage(&bad(vec![one(10, 1)], 0), &[]),
            Err(OverageError::Tiers("colour"))
        );
        assert_eq!(
            overage(&bad(vec![one(0, 1), one(0, 2)], 0), &[]),
            Err(OverageError::Tiers("colour"))
        );
        assert_eq!(
            overage(&bad(vec![one(0, -1)], 0), &[]),
            Err(OverageError::Negative("colour"))
        );
        assert_eq!(
            overage(&bad(vec![], -5), &[]),
            Err(OverageError::Negative("colour"))
        );
        assert!(overage(&bad(vec![], 0), &[u("1", "A", Counter::Colour, -1, false)]).is_err());
    }

    /// Random counters read at random (some periods without a reading, estimates too high
    /// or too low): no period bills negative copies, what is billed is exactly what the
    /// counter was billed up to, and once a reading passes the estimates every copy up to
    /// it has been billed, once.
    #[test]
    fn random_readings_bill_every_copy_once_and_never_negative() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(0x0c09_1e55);
        for _ in 0..5_000 {
            let start = rng.random_range(0..1_000_000);
            let mut counter = start;
            let mut up_to = start;
            let mut billed = 0i64;
            let periods = rng.random_range(1..30);
            let average = rng.random_range(0..20_000);
            for _ in 0..periods {
                counter += rng.random_range(0..2 * average + 1);
                let read = rng.random_bool(0.7).then_some(counter);
                let days = rng.random_range(28..93);
                let u = used(up_to, read, estimate(Some(average), days));
                assert!(u.copies >= 0);
                assert!(u.up_to >= up_to, "never billed backwards");
                billed += u.copies;
                up_to = u.up_to;
                if let Some(r) = read {
                    assert!(up_to >= r, "every copy up to a reading is billed");
                }
            }
            assert_eq!(billed, up_to - start, "each copy once");
            // A final reading: if the counter passed the estimates, exactly what it made.
            counter += 1;
            let last = used(up_to, Some(counter.max(up_to)), 0);
            assert_eq!(billed + last.copies, counter.max(up_to) - start);
        }
    }
}
