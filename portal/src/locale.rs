//! Money, dates and the words of documents in the portal's three languages. Money is
//! formatted from minor units with the currency's own exponent: never through a float.

/// A language of the portal, its mail and its PDFs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    En,
    Es,
    PtBr,
}

impl Lang {
    /// From a tag such as `pt-BR`, `es-419`, `en`; English when unknown.
    pub fn from_tag(tag: &str) -> Self {
        let t = tag.trim().to_ascii_lowercase();
        if t.starts_with("pt") {
            Lang::PtBr
        } else if t.starts_with("es") {
            Lang::Es
        } else {
            Lang::En
        }
    }

    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Es => "es",
            Lang::PtBr => "pt-BR",
        }
    }
}

fn group(digits: &str, sep: char) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(sep);
        }
        out.push(c);
    }
    out
}

fn symbol(currency: &str) -> Option<&'static str> {
    Some(match currency {
        "USD" => "$",
        "EUR" => "€",
        "GBP" => "£",
        "BRL" => "R$",
        "JPY" => "¥",
        _ => return None,
    })
}

/// `minor` units of `currency` (whose minor unit is 10^-`exponent`) as people of `lang`
/// write it: `€1,234.50`, `1.234,50 €`, `R$ 1.234,50`.
pub fn money(minor: i64, currency: &str, exponent: u8, lang: Lang) -> String {
    let negative = minor < 0;
    let abs = minor.unsigned_abs();
    let scale = 10u64.pow(u32::from(exponent));
    let whole = (abs / scale).to_string();
    let frac = abs % scale;
    let (thousands, decimal) = match lang {
        Lang::En => (',', '.'),
        Lang::Es | Lang::PtBr => ('.', ','),
    };
    let mut number = group(&whole, thousands);
    if exponent > 0 {
        number.push(decimal);
        number.push_str(&format!("{frac:0width$}", width = usize::from(exponent)));
    }
    let sign = if negative { "-" } else { "" };
    match (lang, symbol(currency)) {
        (Lang::En, Some(s)) => format!("{sign}{s}{number}"),
        (Lang::PtBr, Some(s)) => format!("{sign}{s}\u{a0}{number}"),
        (Lang::Es, Some(s)) => format!("{sign}{number}\u{a0}{s}"),
        (_, None) => format!("{sign}{number}\u{a0}{currency}"),
    }
}

/// An amount typed by a person (`123.45`, `123,45`, `1,234.50`, `1.234,50`, `R$ 10`) in
/// minor units of a currency with `exponent` decimals; `None` when it is not one. A sign,
/// or anything but a currency before or after the number, makes it none: `-5` is not 5,
/// and `1x2` is not 12.
pub fn parse_amount(s: &str, exponent: u8) -> Option<i64> {
    if s.contains('-') {
        return None;
    }
    let number = |c: char| c.is_ascii_digit() || matches!(c, '.' | ',');
    let core = s
        .trim()
        .trim_start_matches(|c: char| !number(c))
        .trim_end_matches(|c: char| !number(c));
    if core
        .chars()
        .any(|c| !(number(c) || c == ' ' || c == '\u{a0}' || c == '\u{202f}' || c == '\''))
    {
        return None;
    }
    let t: String = core.chars().filter(|c| number(*c)).collect();
    if t.is_empty() {
        return None;
    }
    // The last separator followed by 1..=exponent digits is the decimal point.
    let (whole, frac) = match t.rfind(['.', ',']) {
        Some(i) if exponent > 0 && t.len() - i - 1 <= usize::from(exponent) && t.len() - i > 1 => {
            (&t[..i], &t[i + 1..])
        }
        _ => (t.as_str(), ""),
    };
    let whole: String = whole.chars().filter(char::is_ascii_digit).collect();
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let scale = 10i64.checked_pow(u32::from(exponent))?;
    let mut f = frac.to_owned();
    while f.len() < usize::from(exponent) {
        f.push('0');
    }
    let frac: i64 = if f.is_empty() { 0 } else { f.parse().ok()? };
    whole.checked_mul(scale)?.checked_add(frac)
}

/// Minor units as a plain decimal for a form field (`1234.50`).
pub fn plain_amount(minor: i64, exponent: u8) -> String {
    if exponent == 0 {
        return minor.to_string();
    }
    let scale = 10i64.pow(u32::from(exponent));
    format!(
        "{}.{:0w$}",
        minor / scale,
        (minor % scale).abs(),
        w = usize::from(exponent)
    )
}

/// A quantity in thousandths, without trailing zeros: `1.5`, `2`, `0,25`.
pub fn quantity(milli: i64, lang: Lang) -> String {
    let whole = milli / 1000;
    let frac = (milli % 1000).abs();
    if frac == 0 {
        return whole.to_string();
    }
    let sep = if lang == Lang::En { '.' } else { ',' };
    let f = format!("{frac:03}");
    format!("{whole}{sep}{}", f.trim_end_matches('0'))
}

/// A whole count with the thousands grouped as `lang` writes them: `45,210` (en),
/// `45.210` (es, pt-BR).
pub fn count(n: i64, lang: Lang) -> String {
    let sep = if lang == Lang::En { ',' } else { '.' };
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(sep);
        }
        out.push(ch);
    }
    out
}

/// Basis points as a percentage: `23 %`, `7.5 %`.
pub fn percent(bp: u32, lang: Lang) -> String {
    let whole = bp / 100;
    let frac = bp % 100;
    let sep = if lang == Lang::En { '.' } else { ',' };
    if frac == 0 {
        format!("{whole}\u{a0}%")
    } else {
        let f = format!("{frac:02}");
        format!("{whole}{sep}{}\u{a0}%", f.trim_end_matches('0'))
    }
}

/// (year, month, day) of a day number (days since 1970-01-01).
pub fn civil(day: i64) -> (i64, u32, u32) {
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = (if mp < 10 { mp + 3 } else { mp - 9 }) as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// The day number of a date.
pub fn day_of(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `2026-11-23` into a day number.
pub fn parse_date(s: &str) -> Option<i64> {
    let mut it = s.trim().splitn(3, '-');
    let y: i64 = it.next()?.parse().ok()?;
    let m: u32 = it.next()?.parse().ok()?;
    let d: u32 = it.next()?.parse().ok()?;
    if !(1900..=9999).contains(&y) || !(1..=12).contains(&m) || d == 0 {
        return None;
    }
    let day = day_of(y, m, d);
    (civil(day) == (y, m, d)).then_some(day)
}

/// A day number as `2026-11-23`.
pub fn iso_date(day: i64) -> String {
    let (y, m, d) = civil(day);
    format!("{y:04}-{m:02}-{d:02}")
}

const MONTHS: [[&str; 12]; 3] = [
    [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ],
    [
        "ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sept", "oct", "nov", "dic",
    ],
    [
        "jan", "fev", "mar", "abr", "mai", "jun", "jul", "ago", "set", "out", "nov", "dez",
    ],
];

/// A day as people of `lang` write it: `23 Nov 2026`, `23 nov 2026`.
pub fn date(day: i64, lang: Lang) -> String {
    let (y, m, d) = civil(day);
    let names = match lang {
        Lang::En => &MONTHS[0],
        Lang::Es => &MONTHS[1],
        Lang::PtBr => &MONTHS[2],
    };
    let month = names[(m as usize).saturating_sub(1).min(11)];
    format!("{d} {month} {y}")
}

/// The words printed on documents.
#[derive(Debug)]
pub struct DocWords {
    pub invoice: &'static str,
    pub estimate: &'static str,
    pub bill_to: &'static str,
    pub issued: &'static str,
    pub due: &'static str,
    pub valid_until: &'static str,
    pub description: &'static str,
    pub quantity: &'static str,
    pub unit_price: &'static str,
    pub tax: &'static str,
    pub amount: &'static str,
    pub subtotal: &'static str,
    pub discount: &'static str,
    pub total: &'static str,
    pub paid: &'static str,
    pub balance: &'static str,
    pub notes: &'static str,
    pub terms: &'static str,
    pub page: &'static str,
    pub of: &'static str,
    pub tax_id: &'static str,
    pub status_draft: &'static str,
    pub status_sent: &'static str,
    pub status_viewed: &'static str,
    pub status_partially_paid: &'static str,
    pub status_paid: &'static str,
    pub status_overdue: &'static str,
    pub status_void: &'static str,
    pub status_accepted: &'static str,
    pub status_declined: &'static str,
    pub status_expired: &'static str,
}

pub fn doc_words(lang: Lang) -> &'static DocWords {
    match lang {
        Lang::En => &DocWords {
            invoice: "Invoice",
            estimate: "Estimate",
            bill_to: "Bill to",
            issued: "Issue date",
            due: "Due date",
            valid_until: "Valid until",
            description: "Description",
            quantity: "Qty",
            unit_price: "Unit price",
            tax: "Tax",
            amount: "Amount",
            subtotal: "Subtotal",
            discount: "Discount",
            total: "Total",
            paid: "Paid",
            balance: "Amount due",
            notes: "Notes",
            terms: "Terms",
            page: "Page",
            of: "of",
            tax_id: "Tax ID",
            status_draft: "Draft",
            status_sent: "Sent",
            status_viewed: "Viewed",
            status_partially_paid: "Partially paid",
            status_paid: "Paid",
            status_overdue: "Overdue",
            status_void: "Void",
            status_accepted: "Accepted",
            status_declined: "Declined",
            status_expired: "Expired",
        },
        Lang::Es => &DocWords {
            invoice: "Factura",
            estimate: "Presupuesto",
            bill_to: "Facturar a",
            issued: "Fecha de emisión",
            due: "Vencimiento",
            valid_until: "Válido hasta",
            description: "Descripción",
            quantity: "Cant.",
            unit_price: "Precio unitario",
            tax: "Impuesto",
            amount: "Importe",
            subtotal: "Subtotal",
            discount: "Descuento",
            total: "Total",
            paid: "Pagado",
            balance: "Importe pendiente",
            notes: "Notas",
            terms: "Condiciones",
            page: "Página",
            of: "de",
            tax_id: "NIF",
            status_draft: "Borrador",
            status_sent: "Enviada",
            status_viewed: "Vista",
            status_partially_paid: "Pagada en parte",
            status_paid: "Pagada",
            status_overdue: "Vencida",
            status_void: "Anulada",
            status_accepted: "Aceptado",
            status_declined: "Rechazado",
            status_expired: "Caducado",
        },
        Lang::PtBr => &DocWords {
            invoice: "Fatura",
            estimate: "Orçamento",
            bill_to: "Cobrar de",
            issued: "Emissão",
            due: "Vencimento",
            valid_until: "Válido até",
            description: "Descrição",
            quantity: "Qtd.",
            unit_price: "Preço unitário",
            tax: "Imposto",
            amount: "Valor",
            subtotal: "Subtotal",
            discount: "Desconto",
            total: "Total",
            paid: "Pago",
            balance: "Valor a pagar",
            notes: "Observações",
            terms: "Condições",
            page: "Página",
            of: "de",
            tax_id: "CNPJ",
            status_draft: "Rascunho",
            status_sent: "Enviada",
            status_viewed: "Visualizada",
            status_partially_paid: "Paga em parte",
            status_paid: "Paga",
            status_overdue: "Vencida",
            status_void: "Cancelada",
            status_accepted: "Aceito",
            status_declined: "Recusado",
            status_expired: "Expirado",
        },
    }
}

impl DocWords {
    /// The word for an invoice status (`paid`, `partially_paid`, …).
    pub fn status(&self, status: &str) -> &'static str {
        match status {
            "draft" => self.status_draft,
            "sent" => self.status_sent,
            "viewed" => self.status_viewed,
            "partially_paid" => self.status_partially_paid,
            "paid" => self.status_paid,
            "overdue" => self.status_overdue,
            "void" => self.status_void,
            "accepted" => self.status_accepted,
            "declined" => self.status_declined,
            "expired" => self.status_expired,
            _ => self.status_sent,
        }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(count(45_210, Lang::En), "45,210");
        assert_eq!(count(1_045_210, Lang::PtBr), "1.045.210");
        assert_eq!(count(999, Lang::Es), "999");
        assert_eq!(count(-1_000, Lang::En), "-1,000");
        assert_eq!(count(0, Lang::En), "0");
    }

    use super::*;

    #[test]
    fn money_is_written_per_language_from_minor_units() {
        assert_eq!(money(123_450, "EUR", 2, Lang::En), "€1,234.50");
        assert_eq!(money(123_450, "EUR", 2, Lang::Es), "1.234,50\u{a0}€");
        assert_eq!(money(123_450, "BRL", 2, Lang::PtBr), "R$\u{a0}1.234,50");
        assert_eq!(money(5, "USD", 2, Lang::En), "$0.05");
        assert_eq!(money(-1_000, "USD", 2, Lang::En), "-$10.00");
        assert_eq!(money(1_000_000, "JPY", 0, Lang::En), "¥1,000,000");
        assert_eq!(money(1_234, "KWD", 3, Lang::En), "1.234\u{a0}KWD");
        assert_eq!(
            money(i64::MIN, "USD", 2, Lang::En),
            "-$92,233,720,368,547,758.08"
        );
    }

    #[test]
    fn typed_amounts_are_read_in_minor_units() {
        assert_eq!(parse_amount("123.45", 2), Some(12_345));
        assert_eq!(parse_amount("123,45", 2), Some(12_345));
        assert_eq!(parse_amount("1,234.50", 2), Some(123_450));
        assert_eq!(parse_amount("1.234,5", 2), Some(123_450));
        assert_eq!(parse_amount("R$ 10", 2), Some(1_000));
        assert_eq!(parse_amount("1.000", 0), Some(1_000));
        assert_eq!(parse_amount("abc", 2), None);
        assert_eq!(parse_amount("-5", 2), None, "a sign is not dropped");
        assert_eq!(parse_amount("R$ -5,00", 2), None);
        assert_eq!(parse_amount("1x2", 2), None, "letters inside the number");
        assert_eq!(parse_amount("12 BRL", 2), Some(1_200));
        assert_eq!(parse_amount("1 234,50 €", 2), Some(123_450));
        assert_eq!(parse_amount("US$1,234.50", 2), Some(123_450));
        assert_eq!(parse_amount("99999999999999999999", 2), None);
        assert_eq!(plain_amount(123_450, 2), "1234.50");
        assert_eq!(plain_amount(5, 2), "0.05");
        assert_eq!(plain_amount(7, 0), "7");
    }

    #[test]
    fn quantities_and_rates_drop_trailing_zeros() {
        assert_eq!(quantity(1_500, Lang::En), "1.5");
        assert_eq!(quantity(2_000, Lang::Es), "2");
        assert_eq!(quantity(250, Lang::PtBr), "0,25");
        assert_eq!(percent(2_300, Lang::En), "23\u{a0}%");
        assert_eq!(percent(750, Lang::Es), "7,5\u{a0}%");
    }

    #[test]
    fn dates_round_trip_through_day_numbers() {
        assert_eq!(parse_date("2026-11-23"), Some(20_780));
        assert_eq!(iso_date(20_780), "2026-11-23");
        assert_eq!(
            parse_date("2024-02-29").map(iso_date).as_deref(),
            Some("2024-02-29")
        );
        assert_eq!(parse_date("2025-02-29"), None);
        assert_eq!(parse_date("2026-13-01"), None);
        assert_eq!(parse_date("tomorrow"), None);
        assert_eq!(date(20_780, Lang::PtBr), "23 nov 2026");
        assert_eq!(date(20_780, Lang::En), "23 Nov 2026");
        for d in -1_000..40_000 {
            let (y, m, dd) = civil(d);
            assert_eq!(day_of(y, m, dd), d);
        }
    }
}
