//! Meter readings of leased machines: what a client or an agent types as a counter, what a
//! WhatsApp or mail message says ("reading for ABC123: 45,210"), and whether a new reading
//! may be stored after the previous one.
//!
//! Pure: no IO. The rules:
//! - A count is a whole number of pages, written as people write it: `45210`, `45,210`,
//!   `45.210`, `45 210` (thousands grouped by threes in any of the three languages). A
//!   decimal part, a sign, letters or more than [`MAX_COUNT`] are refused, each with its
//!   own error.
//! - A reading is never below the previous one of the same counter (a counter only goes up;
//!   a replaced machine is a new machine).
//! - A jump above [`JUMP_FACTOR`] times the machine's average monthly volume, scaled to the
//!   days since the previous reading, is stored only once the person confirms it.
//!
//! Tests: `readings::tests` (every refusal named; the message forms in en, es, pt).

use serde::{Deserialize, Serialize};

/// The largest count accepted: no office machine prints a billion pages.
pub const MAX_COUNT: i64 = 999_999_999;

/// A reading whose volume exceeds this many times the machine's usual volume for the
/// same span needs the person's confirmation.
pub const JUMP_FACTOR: i64 = 3;

/// One of a machine's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Counter {
    Mono,
    Colour,
    Scans,
}

impl Counter {
    pub const ALL: [Counter; 3] = [Counter::Mono, Counter::Colour, Counter::Scans];

    pub fn as_str(self) -> &'static str {
        match self {
            Counter::Mono => "mono",
            Counter::Colour => "colour",
            Counter::Scans => "scans",
        }
    }

    pub fn parse(s: &str) -> Option<Counter> {
        match s {
            "mono" => Some(Counter::Mono),
            "colour" | "color" => Some(Counter::Colour),
            "scans" => Some(Counter::Scans),
            _ => None,
        }
    }
}

/// What is wrong with a typed count or a reading.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadingError {
    #[error("the {0} counter is empty")]
    Empty(&'static str),
    #[error("{0:?} is not a number of pages")]
    NotANumber(String),
    #[error("a counter is a whole number of pages, not {0:?}")]
    NotWhole(String),
    #[error("a counter cannot be negative ({0})")]
    Negative(String),
    #[error("{0} is more than any machine counts (at most {MAX_COUNT})")]
    TooLarge(String),
    #[error(
        "the {counter} counter reads {given}, below the previous reading of {previous}: a counter only goes up"
    )]
    BelowPrevious {
        counter: &'static str,
        previous: i64,
        given: i64,
    },
    #[error("a reading needs at least one counter")]
    NoCounter,
    #[error("a reading cannot be dated before the previous one")]
    BeforePrevious,
}

/// Reads a typed count: digits, grouped by threes with `,` `.` `'` or spaces.
pub fn parse_count(text: &str, counter: Counter) -> Result<i64, ReadingError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(ReadingError::Empty(counter.as_str()));
    }
    if let Some(rest) = t.strip_prefix('-') {
        return Err(match parse_count(rest, counter) {
            Ok(_) | Err(ReadingError::TooLarge(_) | ReadingError::NotWhole(_)) => {
                ReadingError::Negative(t.to_owned())
            }
            Err(_) => ReadingError::NotANumber(t.to_owned()),
        });
    }
    let t = t.strip_prefix('+').unwrap_or(t);
    if !t
        .chars()
        .all(|c| c.is_ascii_digit() || ",. '\u{a0}\u{202f}".contains(c))
        || !t.starts_with(|c: char| c.is_ascii_digit())
    {
        return Err(ReadingError::NotANumber(text.trim().to_owned()));
    }
    let groups: Vec<&str> = t
        .split(|c: char| ",. '\u{a0}\u{202f}".contains(c))
        .collect();
    if groups.len() > 1 {
        // Thousands separators: the first group 1–3 digits, every other exactly 3.
        let grouped =
            (1..=3).contains(&groups[0].len()) && groups[1..].iter().all(|g| g.len() == 3);
        if !grouped {
            return Err(ReadingError::NotWhole(text.trim().to_owned()));
        }
    }
    let digits: String = groups.concat();
    if digits.len() > 12 {
        return Err(ReadingError::TooLarge(text.trim().to_owned()));
    }
    let n: i64 = digits
        .parse()
        .map_err(|_| ReadingError::NotANumber(text.trim().to_owned()))?;
    if n > MAX_COUNT {
        return Err(ReadingError::TooLarge(text.trim().to_owned()));
    }
    Ok(n)
}

/// A machine's counters on a day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub mono: Option<i64>,
    pub colour: Option<i64>,
    pub scans: Option<i64>,
}

impl Counts {
    pub fn get(&self, c: Counter) -> Option<i64> {
        match c {
            Counter::Mono => self.mono,
            Counter::Colour => self.colour,
            Counter::Scans => self.scans,
        }
    }

    pub fn set(&mut self, c: Counter, v: Option<i64>) {
        match c {
            Counter::Mono => self.mono = v,
            Counter::Colour => self.colour = v,
            Counter::Scans => self.scans = v,
        }
    }

    pub fn is_empty(&self) -> bool {
        Counter::ALL.iter().all(|c| self.get(*c).is_none())
    }
}

/// A stored reading: the counters on a day (days since 1970-01-01).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reading {
    pub day: i64,
    pub counts: Counts,
}

/// What a new reading asks of the person before it is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Jump {
    pub counter: Counter,
    /// Pages since the previous reading.
    pub pages: i64,
    /// The most that passes without asking: [`JUMP_FACTOR`] × the usual volume for as many
    /// days.
    pub usual_limit: i64,
}

/// Checks a new reading against the machine's previous one and its average volume per
/// 30 days (per counter). `Ok` with the jumps to confirm (empty: it may be stored).
pub fn check(
    previous: Option<&Reading>,
    monthly_average: &Counts,
    new: &Reading,
) -> Result<Vec<Jump>, ReadingError> {
    if new.counts.is_empty() {
        return Err(ReadingError::NoCounter);
    }
    let mut jumps = Vec::new();
    let Some(prev) = previous else {
        return Ok(jumps);
    };
    if new.day < prev.day {
        return Err(ReadingError::BeforePrevious);
    }
    for c in Counter::ALL {
        let (Some(before), Some(now)) = (prev.counts.get(c), new.counts.get(c)) else {
            continue;
        };
        if now < before {
            return Err(ReadingError::BelowPrevious {
                counter: c.as_str(),
                previous: before,
                given: now,
            });
        }
        let Some(avg) = monthly_average.get(c).filter(|a| *a > 0) else {
            continue;
        };
        // At least a week's worth, so two readings a day apart do not trip it.
        let days = (new.day - prev.day).max(7);
        let usual_limit = JUMP_FACTOR * avg * days / 30;
        if now - before > usual_limit {
            jumps.push(Jump {
                counter: c,
                pages: now - before,
                usual_limit,
            });
        }
    }
    Ok(jumps)
}

/// The average volume per 30 days of each counter over a machine's readings (oldest
/// first), from the first to the last reading that has the counter; `None` with fewer
/// than two such readings or under a week between them.
pub fn monthly_average(readings: &[Reading]) -> Counts {
    let mut out = Counts::default();
    for c in Counter::ALL {
        let with: Vec<(i64, i64)> = readings
            .iter()
            .filter_map(|r| r.counts.get(c).map(|v| (r.day, v)))
            .collect();
        if let (Some(first), Some(last)) = (with.first(), with.last())
            && last.0 - first.0 >= 7
            && last.1 >= first.1
        {
            out.set(c, Some((last.1 - first.1) * 30 / (last.0 - first.0)));
        }
    }
    out
}

/// A reading sent in words: the machine it names (a serial or asset tag, as written) and
/// the counts it gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Said {
    pub machine: String,
    pub counts: Counts,
}

/// Finds a reading in a message: a word for reading or counter (en, es, pt, accents
/// optional), the machine's serial or tag (letters and digits, at least one digit), and a
/// count, or counts named mono / colour (`cor`, `color`, `p&b`, `pb`, `preto`, `negro`)
/// / scans. "reading for ABC123: 45,210", "leitura da E174M123456 45.210",
/// "contador ABC-123 pb 45.210 cor 12.001". `None` when the message is not a reading.
pub fn said(text: &str) -> Option<Said> {
    let lower = text.to_lowercase();
    let folded: String = lower
        .chars()
        .map(|c| match c {
            'á' | 'à' | 'â' | 'ã' => 'a',
            'é' | 'ê' => 'e',
            'í' => 'i',
            'ó' | 'ô' | 'õ' => 'o',
            'ú' | 'ü' => 'u',
            'ç' => 'c',
            'ñ' => 'n',
            c => c,
        })
        .collect();
    const WORDS: &[&str] = &[
        "reading", "meter", "counter", "leitura", "contador", "lectura", "medidor",
    ];
    let words: Vec<&str> = folded
        .split(|c: char| c.is_whitespace() || ":;=()".contains(c))
        .filter(|w| !w.is_empty())
        .collect();
    let start = words
        .iter()
        .position(|w| WORDS.iter().any(|k| w.trim_matches(',').starts_with(k)))?;
    const SKIP: &[&str] = &[
        "for",
        "of",
        "the",
        "da",
        "do",
        "de",
        "la",
        "el",
        "del",
        "a",
        "o",
        "machine",
        "maquina",
        "impressora",
        "impresora",
        "copiadora",
        "printer",
        "copier",
        "serie",
        "serial",
        "nº",
        "n",
        "no",
        "numero",
        "tag",
        "is",
        "e",
        "es",
        "esta",
    ];
    let mut i = start + 1;
    let mut machine = None;
    while i < words.len() {
        let w = words[i].trim_matches(|c: char| ",.#".contains(c));
        if SKIP.contains(&w) || w.is_empty() || WORDS.iter().any(|k| w.starts_with(k)) {
            i += 1;
            continue;
        }
        let ok = w.len() >= 3
            && w.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && w.chars().any(|c| c.is_ascii_digit())
            && w.chars().any(|c| c.is_ascii_alphabetic());
        if ok {
            machine = Some(w.to_ascii_uppercase());
            i += 1;
        }
        break;
    }
    let machine = machine?;
    let mut counts = Counts::default();
    let mut named: Option<Counter> = None;
    for w in &words[i..] {
        let w = w.trim_matches(|c: char| c == ',' || c == '.' || c == '!');
        let kind = match w {
            "mono" | "pb" | "p&b" | "preto" | "negro" | "bw" | "b&w" | "black" => {
                Some(Counter::Mono)
            }
            "cor" | "color" | "colour" | "colorida" | "colores" => Some(Counter::Colour),
            "scan" | "scans" | "digitalizacoes" | "escaneos" | "escaneres" => Some(Counter::Scans),
            _ => None,
        };
        if kind.is_some() {
            named = kind;
            continue;
        }
        if w.starts_with(|c: char| c.is_ascii_digit())
            && let Ok(n) = parse_count(w, named.unwrap_or(Counter::Mono))
        {
            let c = named.take().unwrap_or_else(|| {
                // Unnamed counts fill mono, then colour.
                if counts.mono.is_none() {
                    Counter::Mono
                } else {
                    Counter::Colour
                }
            });
            if counts.get(c).is_none() {
                counts.set(c, Some(n));
            }
        }
    }
    (!counts.is_empty()).then_some(Said { machine, counts })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_read_as_people_write_them_and_refusals_are_named() {
        for (text, n) in [
            ("45210", 45_210),
            ("45,210", 45_210),
            ("45.210", 45_210),
            ("45 210", 45_210),
            ("1.045.210", 1_045_210),
            (" 7 ", 7),
            ("0", 0),
            ("+12", 12),
        ] {
            assert_eq!(parse_count(text, Counter::Mono), Ok(n), "{text}");
        }
        use ReadingError::*;
        assert_eq!(parse_count("", Counter::Colour), Err(Empty("colour")));
        assert_eq!(
            parse_count("abc", Counter::Mono),
            Err(NotANumber("abc".into()))
        );
        assert_eq!(
            parse_count("12a", Counter::Mono),
            Err(NotANumber("12a".into()))
        );
        assert_eq!(parse_count("-5", Counter::Mono), Err(Negative("-5".into())));
        assert_eq!(
            parse_count("45.2", Counter::Mono),
            Err(NotWhole("45.2".into()))
        );
        assert_eq!(
            parse_count("4,52,10", Counter::Mono),
            Err(NotWhole("4,52,10".into()))
        );
        assert_eq!(
            parse_count("1000000000", Counter::Mono),
            Err(TooLarge("1000000000".into()))
        );
        assert_eq!(
            parse_count("99999999999999999999999", Counter::Mono),
            Err(TooLarge("99999999999999999999999".into()))
        );
    }

    fn reading(day: i64, mono: i64, colour: Option<i64>) -> Reading {
        Reading {
            day,
            counts: Counts {
                mono: Some(mono),
                colour,
                scans: None,
            },
        }
    }

    #[test]
    fn a_reading_never_goes_below_and_a_big_jump_asks_first() {
        let prev = reading(100, 40_000, Some(5_000));
        let avg = Counts {
            mono: Some(3_000),
            colour: Some(500),
            scans: None,
        };
        // A month of usual use passes.
        assert_eq!(
            check(Some(&prev), &avg, &reading(130, 43_100, Some(5_400))),
            Ok(vec![])
        );
        // Below the previous: refused, naming both.
        let e = check(Some(&prev), &avg, &reading(130, 39_999, Some(5_400))).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the mono counter reads 39999, below the previous reading of 40000: a counter only goes up"
        );
        // The same reading again is no error (stored once by the store, not refused here).
        assert_eq!(check(Some(&prev), &avg, &prev), Ok(vec![]));
        // More than three months' worth in a month: confirm first.
        let jumps = check(Some(&prev), &avg, &reading(130, 49_001, Some(5_400))).unwrap();
        assert_eq!(
            jumps,
            vec![Jump {
                counter: Counter::Mono,
                pages: 9_001,
                usual_limit: 9_000
            }]
        );
        // Three days later, a week's worth is the floor: 2,100 pages pass.
        assert_eq!(
            check(Some(&prev), &avg, &reading(103, 42_100, None)),
            Ok(vec![])
        );
        assert_eq!(
            check(Some(&prev), &avg, &reading(90, 42_100, None)),
            Err(ReadingError::BeforePrevious)
        );
        assert_eq!(
            check(
                None,
                &avg,
                &Reading {
                    day: 1,
                    counts: Counts::default()
                }
            ),
            Err(ReadingError::NoCounter)
        );
        // No history: nothing to compare.
        assert_eq!(
            check(None, &Counts::default(), &reading(1, 10, None)),
            Ok(vec![])
        );
    }

    #[test]
    fn the_average_is_per_thirty_days_over_the_history() {
        let history = [
            reading(0, 10_000, Some(100)),
            reading(30, 13_000, Some(400)),
            reading(90, 19_000, Some(1_000)),
        ];
        let avg = monthly_average(&history);
        assert_eq!(avg.mono, Some(3_000));
        assert_eq!(avg.colour, Some(300));
        assert_eq!(avg.scans, None);
        assert_eq!(monthly_average(&history[..1]).mono, None);
    }

    #[test]
    fn readings_are_found_in_messages_in_three_languages() {
        let s = said("reading for ABC123: 45,210").unwrap();
        assert_eq!(
            (s.machine.as_str(), s.counts.mono),
            ("ABC123", Some(45_210))
        );
        let s = said("Bom dia! Leitura da E174M123456: pb 45.210, cor 12.001").unwrap();
        assert_eq!(s.machine, "E174M123456");
        assert_eq!(
            (s.counts.mono, s.counts.colour),
            (Some(45_210), Some(12_001))
        );
        let s = said("contador de la copiadora SN-77A12 es 1.203.400").unwrap();
        assert_eq!(
            (s.machine.as_str(), s.counts.mono),
            ("SN-77A12", Some(1_203_400))
        );
        let s = said("Lectura XR500B negro 3450 color 120").unwrap();
        assert_eq!((s.counts.mono, s.counts.colour), (Some(3_450), Some(120)));
        let s = said("leitura do contador ABC123 45210 e 3300").unwrap();
        assert_eq!(
            (s.counts.mono, s.counts.colour),
            (Some(45_210), Some(3_300))
        );
        for not in [
            "a impressora está travando o papel",
            "reading the manual now",
            "leitura ABC123",
            "my counter is broken",
            "",
        ] {
            assert_eq!(said(not), None, "{not}");
        }
    }
}
