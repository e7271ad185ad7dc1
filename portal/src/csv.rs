//! Reading invoices from a spreadsheet's CSV (RFC 4180: quoted fields, doubled quotes,
//! commas and line breaks inside quotes, CRLF or LF). One row per line item; rows with the
//! same `external_id` make one document, in the order they come. Every row is checked
//! before anything is made: a file with one bad row is refused whole, with each problem's
//! row number.
//!
//! Columns (header row, any order; the first five required):
//! `external_id, contact_id, currency, description, unit_price`, and `quantity` (default 1),
//! `tax_rate` (percent, default 0), `tax_inclusive` (`yes`/`no`), `issue_date`, `due_date`
//! (`YYYY-MM-DD`), `notes`, `terms`. Amounts are written as people write them (`1234.50`,
//! `1.234,50`).

use crate::document::{DocLine, Document};
use crate::locale::parse_amount;
use crate::totals::{Discount, Rounding};

/// The records of a CSV text, fields unquoted.
pub fn records(text: &str) -> Result<Vec<Vec<String>>, String> {
    records_by(text, ',')
}

/// The records of a CSV text whose separator is the one its header uses: `;` when the
/// first line has more semicolons than commas (how spreadsheets export where the comma
/// is the decimal mark, in Brazil and Spain), `,` otherwise.
pub fn records_sniffed(text: &str) -> Result<Vec<Vec<String>>, String> {
    let first = text.lines().next().unwrap_or_default();
    let count = |c: char| first.chars().filter(|x| *x == c).count();
    records_by(text, if count(';') > count(',') { ';' } else { ',' })
}

fn records_by(text: &str, separator: char) -> Result<Vec<Vec<String>>, String> {
    let mut out = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.trim_start_matches('\u{feff}').chars().peekable();
    let mut line = 1;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                '\n' => {
                    line += 1;
                    field.push(c);
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => quoted = true,
            c if c == separator => row.push(std::mem::take(&mut field)),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                line += 1;
                row.push(std::mem::take(&mut field));
                out.push(std::mem::take(&mut row));
            }
            _ => field.push(c),
        }
    }
    if quoted {
        return Err(format!("line {line}: a quoted field is not closed"));
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        out.push(row);
    }
    out.retain(|r| !(r.len() == 1 && r[0].trim().is_empty()));
    Ok(out)
}

/// One document read from the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    pub external_id: String,
    pub contact_id: String,
    pub currency: String,
    pub issue_date: Option<String>,
    pub due_date: Option<String>,
    pub document: Document,
    /// The file's row of its first line (the header is row 1).
    pub row: usize,
}

/// Reads the documents of a CSV file; `exponent` gives a currency's decimals (`None`:
/// not a currency). Every problem is reported, each with its row, beside the documents
/// that could be read (the caller adds its own checks and refuses the file if any).
pub fn read(text: &str, exponent: &dyn Fn(&str) -> Option<u8>) -> (Vec<Imported>, Vec<String>) {
    match documents(text, exponent) {
        Ok(d) => (d, Vec::new()),
        Err((d, p)) => (d, p),
    }
}

fn documents(
    text: &str,
    exponent: &dyn Fn(&str) -> Option<u8>,
) -> Result<Vec<Imported>, (Vec<Imported>, Vec<String>)> {
    let rows = records(text).map_err(|e| (Vec::new(), vec![e]))?;
    let Some((header, body)) = rows.split_first() else {
        return Err((Vec::new(), vec!["the file is empty".into()]));
    };
    let names: Vec<String> = header
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let col = |n: &str| names.iter().position(|h| h == n);
    let mut problems = Vec::new();
    for required in [
        "external_id",
        "contact_id",
        "currency",
        "description",
        "unit_price",
    ] {
        if col(required).is_none() {
            problems.push(format!("row 1: the column {required} is missing"));
        }
    }
    if !problems.is_empty() {
        return Err((Vec::new(), problems));
    }
    let get = |r: &[String], n: &str| -> String {
        col(n)
            .and_then(|i| r.get(i))
            .map(|v| v.trim().to_owned())
            .unwrap_or_default()
    };
    let mut docs: Vec<Imported> = Vec::new();
    for (i, r) in body.iter().enumerate() {
        let at = i + 2;
        let ext = get(r, "external_id");
        let currency = get(r, "currency").to_ascii_uppercase();
        if ext.is_empty() {
            problems.push(format!("row {at}: external_id is empty"));
            continue;
        }
        let Some(exp) = exponent(&currency) else {
            problems.push(format!("row {at}: {currency:?} is not a currency"));
            continue;
        };
        let quantity = match get(r, "quantity").as_str() {
            "" => Some(1_000),
            q => parse_amount(q, 3),
        };
        let price = parse_amount(&get(r, "unit_price"), exp);
        let rate = match get(r, "tax_rate").trim_end_matches('%').trim() {
            "" => Some(0),
            t => parse_amount(t, 2),
        };
        let (Some(quantity_milli), Some(unit_price), Some(rate)) = (quantity, price, rate) else {
            problems.push(format!(
                "row {at}: quantity, unit_price or tax_rate is not a number"
            ));
            continue;
        };
        let Ok(tax_rate_bp) = u32::try_from(rate) else {
            problems.push(format!("row {at}: tax_rate is too large"));
            continue;
        };
        let line = DocLine {
            description: get(r, "description"),
            quantity_milli,
            unit_price,
            discount: Discount::None,
            tax_rate_bp,
            tax_inclusive: matches!(
                get(r, "tax_inclusive").to_ascii_lowercase().as_str(),
                "yes" | "true" | "1" | "sim" | "sí" | "si"
            ),
        };
        let date = |n: &str| Some(get(r, n)).filter(|v| !v.is_empty());
        match docs.iter_mut().find(|d| d.external_id == ext) {
            Some(d) => {
                if d.contact_id != get(r, "contact_id") || d.currency != currency {
                    problems.push(format!(
                        "row {at}: {ext} has another contact or currency than row {}",
                        d.row
                    ));
                    continue;
                }
                d.document.lines.push(line);
            }
            None => docs.push(Imported {
                external_id: ext,
                contact_id: get(r, "contact_id"),
                currency,
                issue_date: date("issue_date"),
                due_date: date("due_date"),
                document: Document {
                    lines: vec![line],
                    rounding: Rounding::PerLine,
                    notes: get(r, "notes"),
                    terms: get(r, "terms"),
                    bill_to: Default::default(),
                },
                row: at,
            }),
        }
    }
    for d in &docs {
        if let Err(e) = d.document.check() {
            problems.push(format!("row {}: {}: {e}", d.row, d.external_id));
        }
    }
    if problems.is_empty() {
        Ok(docs)
    } else {
        Err((docs, problems))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exp(c: &str) -> Option<u8> {
        match c {
            "BRL" | "EUR" => Some(2),
            "JPY" => Some(0),
            _ => None,
        }
    }

    #[test]
    fn quoted_fields_commas_and_line_breaks_are_read() {
        let r = records("a,b,c\r\n\"x, y\",\"he said \"\"hi\"\"\",\"two\nlines\"\n1,,3").unwrap();
        assert_eq!(r[1], ["x, y", "he said \"hi\"", "two\nlines"]);
        assert_eq!(r[2], ["1", "", "3"]);
        assert!(records("a,\"open").is_err());
    }

    #[test]
    fn rows_of_one_external_id_make_one_document() {
        let text = "external_id,contact_id,currency,description,quantity,unit_price,tax_rate,issue_date\n\
                    erp-1,c1,BRL,Manutenção,2,\"1.234,50\",23,2026-11-01\n\
                    erp-1,c1,BRL,Toner,1,50.00,,\n\
                    erp-2,c2,JPY,Visit,1,5000,10%,\n";
        let (docs, problems) = read(text, &exp);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].document.lines.len(), 2);
        assert_eq!(docs[0].document.lines[0].unit_price, 123_450);
        assert_eq!(docs[0].document.lines[0].quantity_milli, 2_000);
        assert_eq!(docs[0].document.lines[0].tax_rate_bp, 2_300);
        assert_eq!(docs[0].issue_date.as_deref(), Some("2026-11-01"));
        assert_eq!(docs[1].document.lines[0].unit_price, 5_000);
        assert_eq!(docs[1].document.lines[0].tax_rate_bp, 1_000);
    }

    #[test]
    fn every_bad_row_is_named_and_nothing_is_returned() {
        let text = "external_id,contact_id,currency,description,unit_price\n\
                    erp-1,c1,BRL,Ok,10\n\
                    ,c1,BRL,No id,10\n\
                    erp-3,c1,XXX,Bad currency,10\n\
                    erp-4,c1,BRL,Bad price,ten\n\
                    erp-1,c9,BRL,Other contact,10\n\
                    erp-5,c1,BRL,,10\n";
        let (_, e) = read(text, &exp);
        let all = e.join("\n");
        for row in ["row 3", "row 4", "row 5", "row 6", "row 7"] {
            assert!(all.contains(row), "{row}: {all}");
        }
        assert!(!all.contains("row 2:"), "{all}");
        assert!(read("description\nx", &exp).1[0].contains("external_id"));
        assert!(!read("", &exp).1.is_empty());
    }
}
