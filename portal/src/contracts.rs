//! Closing one period of a copier contract: which machines served in it and in which slot,
//! each counter's copies from the readings (or estimated from the machine's average), the
//! overage [`crate::overage`] prices, and the invoice's lines with words the client reads.
//!
//! Pure: the caller loads the contract, its machines' readings and what the previous
//! period billed each counter up to, and stores the [`Calculation`] with the invoice.
//!
//! A counter's start is what the previous period billed it up to; for a machine new to the
//! contract, its last reading on or before its first day (the install reading), else its
//! first reading. A machine with no reading yet bills nothing and keeps no start, so its
//! first reading is its start and no copy made before it is ever billed. The end is the
//! last reading in the machine's days of the period (a machine leaving the contract on day
//! `to` may be read that day); without one the copies are estimated from the machine's
//! average for those days and trued up by the next reading (`overage::used`).
//!
//! Hand-worked: `contracts::tests`.

use serde::{Deserialize, Serialize};

use crate::document::DocLine;
use crate::locale::{Lang, date, money};
use crate::overage::{MachineUse, OverageError, Step, Terms, estimate, overage, used};
use crate::readings::{Counter, Reading, monthly_average};
use crate::totals::Discount;

/// A machine's place in a contract: it serves in `slot` from day `from` until day `to`
/// (exclusive; `None` while it stays).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attached {
    pub machine: String,
    pub slot: String,
    pub from: i64,
    pub to: Option<i64>,
}

/// What a period billed a machine's counter up to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Billed<'a> {
    pub machine: &'a str,
    pub counter: Counter,
    pub up_to: i64,
}

/// A closed period: its days, each machine counter's copies, the priced steps, and what
/// each counter is billed up to after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Calculation {
    pub n: i64,
    pub from: i64,
    pub to: i64,
    pub uses: Vec<MachineUse>,
    pub steps: Vec<Step>,
    /// `(machine, counter, up_to)` for every counter whose start is known.
    pub billed: Vec<(String, Counter, i64)>,
}

impl Calculation {
    /// What this period billed a machine's counter up to.
    pub fn billed_up_to(&self, machine: &str, counter: Counter) -> Option<i64> {
        self.billed
            .iter()
            .find(|(m, c, _)| m == machine && *c == counter)
            .map(|b| b.2)
    }
}

/// Closes period `n` (`[from, to)`) of a contract. `readings(machine)` gives a machine's
/// readings, oldest first; `previous` is the last closed period, if any.
pub fn calculate<'r>(
    terms: &Terms,
    n: i64,
    (from, to): (i64, i64),
    attached: &[Attached],
    readings: impl Fn(&str) -> &'r [Reading],
    previous: Option<&Calculation>,
) -> Result<Calculation, OverageError> {
    let mut uses = Vec::new();
    let mut billed = Vec::new();
    for a in attached {
        let leaves = a.to.filter(|t| *t <= to);
        let (wf, wt) = (a.from.max(from), a.to.map_or(to, |t| t.min(to)));
        if wf >= wt {
            continue;
        }
        let all = readings(&a.machine);
        // A machine leaving is read on its last day or the day it goes.
        let last_day = leaves.unwrap_or(wt - 1);
        let known: Vec<Reading> = all.iter().copied().filter(|r| r.day <= last_day).collect();
        let average = monthly_average(&known);
        for allowance in &terms.allowances {
            let c = allowance.counter;
            let start = previous
                .and_then(|p| p.billed_up_to(&a.machine, c))
                .or_else(|| {
                    known
                        .iter()
                        .rev()
                        .find(|r| r.day <= a.from && r.counts.get(c).is_some())
                        .or_else(|| known.iter().find(|r| r.counts.get(c).is_some()))
                        .and_then(|r| r.counts.get(c))
                });
            let end = known
                .iter()
                .rev()
                .find(|r| r.day >= wf && r.counts.get(c).is_some())
                .and_then(|r| r.counts.get(c));
            let u = match start {
                Some(s) => {
                    let u = used(s, end, estimate(average.get(c), wt - wf));
                    billed.push((a.machine.clone(), c, u.up_to));
                    u
                }
                // No reading yet: nothing to bill, and no start to keep.
                None => used(0, None, 0),
            };
            uses.push(MachineUse {
                slot: a.slot.clone(),
                machine: a.machine.clone(),
                counter: c,
                used: u,
            });
        }
    }
    let steps = overage(terms, &uses)?;
    Ok(Calculation {
        n,
        from,
        to,
        uses,
        steps,
        billed,
    })
}

/// The words of a period's invoice lines.
struct Words {
    fee: &'static str,
    extra: &'static str,
    per_thousand: &'static str,
    estimated: &'static str,
    pooled: &'static str,
    counter: fn(Counter) -> &'static str,
}

fn words(lang: Lang) -> Words {
    match lang {
        Lang::En => Words {
            fee: "Fixed fee",
            extra: "extra copies",
            per_thousand: "per 1,000",
            estimated: "estimated",
            pooled: "all machines",
            counter: |c| match c {
                Counter::Mono => "Black & white",
                Counter::Colour => "Colour",
                Counter::Scans => "Scans",
            },
        },
        Lang::Es => Words {
            fee: "Cuota fija",
            extra: "copias excedentes",
            per_thousand: "cada 1.000",
            estimated: "estimado",
            pooled: "todas las máquinas",
            counter: |c| match c {
                Counter::Mono => "Blanco y negro",
                Counter::Colour => "Color",
                Counter::Scans => "Escaneos",
            },
        },
        Lang::PtBr => Words {
            fee: "Mensalidade fixa",
            extra: "cópias excedentes",
            per_thousand: "por milheiro",
            estimated: "estimado",
            pooled: "todas as máquinas",
            counter: |c| match c {
                Counter::Mono => "Preto e branco",
                Counter::Colour => "Colorido",
                Counter::Scans => "Digitalizações",
            },
        },
    }
}

/// The invoice lines of a closed period: the fixed fee (when there is one), then one line
/// per band of extra copies, naming the counter, the machines (or the pool), the band and
/// whether the copies are estimated. `name(machine)` is how a machine is called (its serial).
pub fn lines(
    calc: &Calculation,
    contract: &str,
    fee: i64,
    terms: &Terms,
    currency: (&str, u8),
    lang: Lang,
    name: impl Fn(&str) -> String,
) -> Vec<DocLine> {
    let w = words(lang);
    let span = format!("{} – {}", date(calc.from, lang), date(calc.to - 1, lang));
    let mut out = Vec::new();
    if fee > 0 {
        out.push(DocLine {
            description: format!("{} · {contract} · {span}", w.fee),
            quantity_milli: 1000,
            unit_price: fee,
            discount: Discount::None,
            tax_rate_bp: terms.tax_rate_bp,
            tax_inclusive: false,
        });
    }
    for s in &calc.steps {
        let who = if s.slot.is_none() {
            w.pooled.to_owned()
        } else {
            s.machines
                .iter()
                .map(|m| name(m))
                .collect::<Vec<_>>()
                .join(" → ")
        };
        for b in &s.bands {
            let mut d = format!(
                "{} {} ({who}) {}–{} · {} {}",
                (w.counter)(s.counter),
                w.extra,
                s.included + b.from + 1,
                s.included + b.from + b.copies,
                money(b.per_thousand, currency.0, currency.1, lang),
                w.per_thousand,
            );
            if s.estimated {
                d.push_str(&format!(" · {}", w.estimated));
            }
            out.push(DocLine {
                description: d,
                quantity_milli: b.copies,
                unit_price: b.per_thousand,
                discount: Discount::None,
                tax_rate_bp: terms.tax_rate_bp,
                tax_inclusive: false,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::locale::day_of;
    use crate::overage::{Allowance, Pooling, Tier};
    use crate::readings::Counts;
    use crate::totals::{Rounding, totals};

    fn r(day: i64, mono: i64) -> Reading {
        Reading {
            day,
            counts: Counts {
                mono: Some(mono),
                colour: None,
                scans: None,
            },
        }
    }

    fn terms(pooling: Pooling) -> Terms {
        Terms {
            pooling,
            allowances: vec![Allowance {
                counter: Counter::Mono,
                included: 5_000,
                tiers: vec![
                    Tier {
                        from: 0,
                        per_thousand: 3_500,
                    },
                    Tier {
                        from: 10_000,
                        per_thousand: 2_500,
                    },
                ],
            }],
            tax_rate_bp: 0,
        }
    }

    fn at(machine: &str, slot: &str, from: i64, to: Option<i64>) -> Attached {
        Attached {
            machine: machine.into(),
            slot: slot.into(),
            from,
            to,
        }
    }

    fn total(calc: &Calculation, fee: i64, t: &Terms) -> i64 {
        let doc = lines(calc, "C-1", fee, t, ("BRL", 2), Lang::PtBr, |m| m.into());
        let ls: Vec<_> = doc.iter().map(DocLine::line).collect();
        totals(&ls, Rounding::PerLine).unwrap().total
    }

    /// Two machines, pooled: 4,000 + 13,000 = 17,000 copies, 5,000 included, 12,000
    /// extra: 10,000 × R$ 35,00/1000 + 2,000 × R$ 25,00/1000 = R$ 400,00; plus the R$ 300
    /// fee. Per machine: A's 4,000 are within its 5,000; B's 8,000 extra are R$ 280,00.
    #[test]
    fn a_period_from_readings_to_the_cent() {
        let jan = day_of(2026, 1, 1);
        let feb = day_of(2026, 2, 1);
        let a = [r(jan - 1, 10_000), r(feb - 1, 14_000)];
        let b = [r(jan, 50_000), r(jan + 30, 63_000)];
        let get = |m: &str| if m == "A" { &a[..] } else { &b[..] };
        let list = [at("A", "1", jan, None), at("B", "2", jan, None)];
        let t = terms(Pooling::Pooled);
        let c = calculate(&t, 0, (jan, feb), &list, get, None).unwrap();
        assert_eq!(c.steps[0].used, 17_000);
        assert_eq!(c.steps[0].extra, 12_000);
        assert_eq!(total(&c, 30_000, &t), 30_000 + 40_000);
        let doc = lines(&c, "C-1", 30_000, &t, ("BRL", 2), Lang::PtBr, |m| m.into());
        assert_eq!(doc.len(), 3);
        assert!(
            doc[1].description.contains("5001–15000"),
            "{}",
            doc[1].description
        );
        assert!(
            doc[1].description.contains("R$\u{a0}35,00 por milheiro"),
            "{}",
            doc[1].description
        );
        assert!(
            doc[2].description.contains("15001–17000"),
            "{}",
            doc[2].description
        );
        let t = terms(Pooling::PerMachine);
        let c = calculate(&t, 0, (jan, feb), &list, get, None).unwrap();
        assert_eq!(c.steps.len(), 2);
        assert_eq!((c.steps[0].extra, c.steps[1].extra), (0, 8_000));
        assert_eq!(total(&c, 0, &t), 28_000);
        assert_eq!(c.billed_up_to("A", Counter::Mono), Some(14_000));
        assert_eq!(c.billed_up_to("B", Counter::Mono), Some(63_000));
    }

    /// February has no reading: 30 days at 6,000 a month are estimated; March's reading of
    /// 10,000 more than January's bills 4,000, and the year bills each copy once.
    #[test]
    fn a_missing_reading_is_estimated_then_trued_up() {
        let jan = day_of(2026, 1, 1);
        let feb = day_of(2026, 2, 1);
        let mar = day_of(2026, 3, 1);
        let apr = day_of(2026, 4, 1);
        let mut a = vec![r(jan - 30, 0), r(jan, 6_000), r(feb - 1, 12_000)];
        let list = [at("A", "1", jan - 30, None)];
        let t = terms(Pooling::PerMachine);
        let snap = a.clone();
        let c1 = calculate(&t, 0, (jan, feb), &list, |_| &snap[..], None).unwrap();
        assert_eq!(
            (c1.uses[0].used.copies, c1.uses[0].used.estimated),
            (12_000, false)
        );
        let c2 = calculate(&t, 1, (feb, mar), &list, |_| &snap[..], Some(&c1)).unwrap();
        assert!(c2.uses[0].used.estimated);
        let estimated = c2.uses[0].used.copies;
        // 12,000 copies in 60 days is 6,000 a month: 28 days are 5,600.
        assert_eq!(estimated, 5_600);
        assert!(c2.steps[0].estimated);
        a.push(r(mar + 20, 22_000));
        let c3 = calculate(&t, 2, (mar, apr), &list, |_| &a[..], Some(&c2)).unwrap();
        assert_eq!(c3.uses[0].used.copies, 22_000 - 12_000 - estimated);
        assert_eq!(
            c1.uses[0].used.copies + c2.uses[0].used.copies + c3.uses[0].used.copies,
            22_000
        );
        let doc = lines(&c2, "C-1", 0, &t, ("BRL", 2), Lang::En, |m| m.into());
        assert!(doc.iter().all(|l| l.description.ends_with("estimated")));
    }

    /// Machine A leaves on the 16th, read that day; B replaces it in the same slot, read
    /// when installed: one allowance for the slot, A's and B's copies together.
    #[test]
    fn a_machine_swapped_mid_period_shares_its_slot() {
        let jan = day_of(2026, 1, 1);
        let feb = day_of(2026, 2, 1);
        let swap = jan + 15;
        let a = [r(jan - 1, 1_000), r(swap, 4_000), r(swap + 5, 4_100)];
        let b = [r(swap, 200), r(feb - 2, 5_200)];
        let get = |m: &str| if m == "A" { &a[..] } else { &b[..] };
        let list = [
            at("A", "1", jan - 100, Some(swap)),
            at("B", "1", swap, None),
        ];
        let t = terms(Pooling::PerMachine);
        let c = calculate(&t, 0, (jan, feb), &list, get, None).unwrap();
        assert_eq!(c.steps.len(), 1);
        assert_eq!(c.steps[0].machines, vec!["A".to_owned(), "B".to_owned()]);
        assert_eq!(c.steps[0].used, 3_000 + 5_000);
        assert_eq!(c.steps[0].extra, 3_000);
        assert_eq!(total(&c, 0, &t), 10_500);
        let doc = lines(&c, "C-1", 0, &t, ("BRL", 2), Lang::Es, |m| format!("#{m}"));
        assert!(
            doc[0].description.contains("(#A → #B)"),
            "{}",
            doc[0].description
        );
        // Next period A is gone: only B is billed.
        let c2 = calculate(&t, 1, (feb, feb + 28), &list, get, Some(&c)).unwrap();
        assert_eq!(c2.uses.len(), 1);
        assert_eq!(c2.uses[0].machine, "B");
    }

    /// A machine with no reading bills nothing and keeps no start; its first reading is
    /// its start, so no copy made before it is billed.
    #[test]
    fn a_machine_never_read_bills_nothing_until_its_first_reading() {
        let jan = day_of(2026, 1, 1);
        let feb = day_of(2026, 2, 1);
        let none: Vec<Reading> = vec![];
        let list = [at("A", "1", jan, None)];
        let t = terms(Pooling::Pooled);
        let c = calculate(&t, 0, (jan, feb), &list, |_| &none[..], None).unwrap();
        assert_eq!(c.uses[0].used.copies, 0);
        assert!(c.billed.is_empty());
        let a = [r(feb + 3, 90_000), r(feb + 27, 99_000)];
        let c2 = calculate(&t, 1, (feb, feb + 28), &list, |_| &a[..], Some(&c)).unwrap();
        assert_eq!(c2.uses[0].used.copies, 9_000);
    }
}
