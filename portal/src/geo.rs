//! Sites on a map: coordinates as people type and spreadsheets export them, kept exactly
//! as millionths of a degree (about 11 cm), and the map's tile address checked and reduced
//! to the origin a page's content-security policy must allow. No geocoding: coordinates
//! are entered or imported.

/// Millionths of a degree in one degree.
pub const E6: i64 = 1_000_000;

/// Why a coordinate was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoordError {
    #[error("{0:?} is not a number of degrees like -23.561414")]
    NotANumber(String),
    #[error("{0:?} has more than six decimals")]
    TooPrecise(String),
    #[error("{what} {value:?} is outside -{max} to {max}")]
    OutOfRange {
        what: &'static str,
        value: String,
        max: i64,
    },
    #[error("a latitude needs its longitude and a longitude its latitude")]
    Half,
}

/// A decimal number of degrees (`-23.561414`, `-46,655881`, `+12`, ` 7.5 `) as
/// millionths, exactly. A comma is the decimal mark when there is no point (how pt and es
/// spreadsheets write it); thousands separators, exponents and degree signs are refused.
pub fn parse_degrees(text: &str) -> Result<i64, CoordError> {
    let s = text.trim();
    let bad = || CoordError::NotANumber(text.to_owned());
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let digits = if digits.contains('.') {
        if digits.contains(',') {
            return Err(bad());
        }
        digits.to_owned()
    } else {
        digits.replacen(',', ".", 1)
    };
    let (whole, frac) = match digits.split_once('.') {
        Some((w, f)) => (w, f),
        None => (digits.as_str(), ""),
    };
    if whole.is_empty() && frac.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || whole.len() > 3
    {
        return Err(bad());
    }
    if frac.len() > 6 {
        return Err(CoordError::TooPrecise(text.to_owned()));
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| bad())?
    };
    let mut micro: i64 = if frac.is_empty() {
        0
    } else {
        frac.parse().map_err(|_| bad())?
    };
    for _ in frac.len()..6 {
        micro *= 10;
    }
    let v = whole * E6 + micro;
    Ok(if negative { -v } else { v })
}

fn checked(what: &'static str, text: &str, max: i64) -> Result<i64, CoordError> {
    let v = parse_degrees(text)?;
    if v.abs() > max * E6 {
        return Err(CoordError::OutOfRange {
            what,
            value: text.trim().to_owned(),
            max,
        });
    }
    Ok(v)
}

/// A latitude and a longitude typed or imported, both or neither (empty text is none):
/// `(lat, lon)` in millionths.
pub fn parse_point(lat: &str, lon: &str) -> Result<Option<(i64, i64)>, CoordError> {
    match (lat.trim().is_empty(), lon.trim().is_empty()) {
        (true, true) => Ok(None),
        (false, false) => Ok(Some((
            checked("latitude", lat, 90)?,
            checked("longitude", lon, 180)?,
        ))),
        _ => Err(CoordError::Half),
    }
}

/// Millionths of a degree written back as decimal degrees (`-23.561414`), the form a map
/// library and a spreadsheet read.
pub fn degrees(e6: i64) -> String {
    let sign = if e6 < 0 { "-" } else { "" };
    let a = e6.unsigned_abs();
    let (whole, frac) = (a / 1_000_000, a % 1_000_000);
    let frac = format!("{frac:06}");
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        format!("{sign}{whole}")
    } else {
        format!("{sign}{whole}.{frac}")
    }
}

/// Why a tile address was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TilesError {
    #[error("the map tile address {0:?} must start with https:// (or http:// on loopback)")]
    Scheme(String),
    #[error("the map tile address {0:?} must hold {{z}}, {{x}} and {{y}}")]
    Placeholders(String),
    #[error("the map tile address {0:?} has no host, or characters a host cannot have")]
    Host(String),
}

/// The origin a page showing tiles from `template` must allow images from
/// (`https://tile.openstreetmap.org`, `https://*.tile.example.org` for a `{s}` subdomain,
/// `http://127.0.0.1:8080`). Refuses what is not a tile template, and plain http except on
/// loopback, so the setting cannot widen the policy to anything.
pub fn tile_origin(template: &str) -> Result<String, TilesError> {
    let t = template.trim();
    let (scheme, rest) = if let Some(r) = t.strip_prefix("https://") {
        ("https", r)
    } else if let Some(r) = t.strip_prefix("http://") {
        ("http", r)
    } else {
        return Err(TilesError::Scheme(t.to_owned()));
    };
    if !["{z}", "{x}", "{y}"].iter().all(|p| t.contains(p)) {
        return Err(TilesError::Placeholders(t.to_owned()));
    }
    let host = rest.split('/').next().unwrap_or_default();
    let host = host.replace("{s}", "*");
    let (name, port) = match host.rsplit_once(':') {
        Some((n, p)) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
            (n.to_owned(), Some(p.to_owned()))
        }
        Some(_) => return Err(TilesError::Host(t.to_owned())),
        None => (host.clone(), None),
    };
    let labels_ok = !name.is_empty()
        && name.split('.').enumerate().all(|(i, l)| {
            (i == 0 && l == "*")
                || (!l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        });
    if !labels_ok {
        return Err(TilesError::Host(t.to_owned()));
    }
    let loopback = name == "127.0.0.1" || name == "localhost";
    if scheme == "http" && !loopback {
        return Err(TilesError::Scheme(t.to_owned()));
    }
    Ok(match port {
        Some(p) => format!("{scheme}://{name}:{p}"),
        None => format!("{scheme}://{name}"),
    })
}

/// One row of a sites file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteRow {
    /// Its line in the file (the header is line 1).
    pub row: usize,
    pub company_id: String,
    pub name: String,
    pub address: Option<String>,
    pub point: Option<(i64, i64)>,
}

/// Reads a sites file (CSV with a header, by commas or semicolons; `company_id`, `name` required; `address`,
/// `latitude`/`lat`, `longitude`/`lon`/`lng`): every row is checked first, and the
/// problems come back each with its row, so the caller imports all or nothing. A name twice
/// for one company is a problem of the later row.
pub fn read_sites_csv(text: &str) -> Result<Vec<SiteRow>, Vec<String>> {
    let records = crate::csv::records_sniffed(text).map_err(|e| vec![e])?;
    let Some((header, rows)) = records.split_first() else {
        return Err(vec!["the file is empty".into()]);
    };
    let col = |names: &[&str]| {
        header
            .iter()
            .position(|h| names.iter().any(|n| h.trim().eq_ignore_ascii_case(n)))
    };
    let mut problems = Vec::new();
    for name in ["company_id", "name"] {
        if col(&[name]).is_none() {
            problems.push(format!("row 1: no {name} column"));
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let (lat_col, lon_col) = (col(&["latitude", "lat"]), col(&["longitude", "lon", "lng"]));
    let mut out: Vec<SiteRow> = Vec::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        let row = i + 2;
        if r.iter().all(|v| v.trim().is_empty()) {
            continue;
        }
        let at = |c: Option<usize>| {
            c.and_then(|c| r.get(c))
                .map(|v| v.trim().to_owned())
                .unwrap_or_default()
        };
        let (company_id, name) = (at(col(&["company_id"])), at(col(&["name"])));
        let mut bad = |why: String| problems.push(format!("row {row}: {why}"));
        if company_id.is_empty() {
            bad("company_id is empty".into());
        }
        if name.is_empty() {
            bad("name is empty".into());
        }
        let point = match parse_point(&at(lat_col), &at(lon_col)) {
            Ok(p) => p,
            Err(e) => {
                bad(e.to_string());
                None
            }
        };
        if company_id.is_empty() || name.is_empty() {
            continue;
        }
        if let Some(o) = out
            .iter()
            .find(|o| o.company_id == company_id && o.name.to_lowercase() == name.to_lowercase())
        {
            bad(format!("site {name} is on row {} too", o.row));
        }
        let address = Some(at(col(&["address"]))).filter(|a| !a.is_empty());
        out.push(SiteRow {
            row,
            company_id,
            name,
            address,
            point,
        });
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn degrees_are_read_as_people_and_spreadsheets_write_them() {
        for (text, want) in [
            ("-23.561414", -23_561_414),
            ("-46,655881", -46_655_881),
            ("+12", 12_000_000),
            (" 7.5 ", 7_500_000),
            ("0", 0),
            (".25", 250_000),
            ("-0.000001", -1),
            ("180", 180_000_000),
        ] {
            assert_eq!(parse_degrees(text), Ok(want), "{text}");
        }
        for text in [
            "", "-", "abc", "1.2.3", "1,234.5", "1e5", "23°", "--1", "1234", "12 5", "0x10",
        ] {
            assert!(
                matches!(parse_degrees(text), Err(CoordError::NotANumber(_))),
                "{text}"
            );
        }
        assert!(matches!(
            parse_degrees("1.1234567"),
            Err(CoordError::TooPrecise(_))
        ));
    }

    #[test]
    fn a_point_is_both_halves_in_range_or_none() {
        assert_eq!(parse_point("", " "), Ok(None));
        assert_eq!(
            parse_point("-23.5614", "-46.6558"),
            Ok(Some((-23_561_400, -46_655_800)))
        );
        assert_eq!(parse_point("-23.5", ""), Err(CoordError::Half));
        assert!(matches!(
            parse_point("91", "0"),
            Err(CoordError::OutOfRange {
                what: "latitude",
                ..
            })
        ));
        assert!(matches!(
            parse_point("0", "-180.000001"),
            Err(CoordError::OutOfRange {
                what: "longitude",
                ..
            })
        ));
    }

    #[test]
    fn degrees_written_back_read_the_same() {
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let v = (seed % 360_000_001) as i64 - 180_000_000;
            assert_eq!(parse_degrees(&degrees(v)), Ok(v), "{v}");
        }
        assert_eq!(degrees(-23_561_400), "-23.5614");
        assert_eq!(degrees(5_000_000), "5");
        assert_eq!(degrees(-1), "-0.000001");
    }

    #[test]
    fn a_sites_file_is_read_whole_with_every_bad_row_named() {
        let good = "\u{feff}company_id;name;address;latitude;longitude\n\
            c1;Matriz;\"Av. Paulista, 1578\";-23,561414;-46,655881\n\
            c1;Depósito;;;\n\
            c2;Matriz;Rua Augusta 10;-23.55;-46.66\n";
        let rows = read_sites_csv(good).unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].address.as_deref(), Some("Av. Paulista, 1578"));
        assert_eq!(rows[0].point, Some((-23_561_414, -46_655_881)));
        assert_eq!(rows[1].point, None);
        let bad = "company_id,name,lat,lng\n\
            c1,Matriz,-23.5,\n\
            ,Filial,1,1\n\
            c1,matriz,95,0\n\
            c1,Norte,abc,1\n";
        let problems = read_sites_csv(bad).unwrap_err();
        let all = problems.join("; ");
        for want in [
            "row 2: a latitude needs its longitude",
            "row 3: company_id is empty",
            "row 4: latitude \"95\" is outside",
            "row 4: site matriz is on row 2 too",
            "row 5: \"abc\" is not a number",
        ] {
            assert!(all.contains(want), "{want}: {all}");
        }
        assert!(read_sites_csv("name\nX\n").unwrap_err()[0].contains("no company_id column"));
    }

    #[test]
    fn a_tile_address_gives_the_one_origin_to_allow() {
        for (t, want) in [
            (
                "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
                "https://tile.openstreetmap.org",
            ),
            (
                "https://{s}.tiles.example.org/osm/{z}/{x}/{y}.png",
                "https://*.tiles.example.org",
            ),
            (
                "http://127.0.0.1:8089/{z}/{x}/{y}.png",
                "http://127.0.0.1:8089",
            ),
        ] {
            assert_eq!(tile_origin(t).as_deref(), Ok(want), "{t}");
        }
        for t in [
            "ftp://tiles.example.org/{z}/{x}/{y}.png",
            "http://tiles.example.org/{z}/{x}/{y}.png",
            "https://tiles.example.org/{z}/{x}.png",
            "https://tiles.example.org; script-src */{z}/{x}/{y}.png",
            "https:///{z}/{x}/{y}.png",
            "https://a.*.example.org/{z}/{x}/{y}.png",
            "https://user@tiles.example.org/{z}/{x}/{y}.png",
            "https://tiles.example.org:/{z}/{x}/{y}.png",
        ] {
            assert!(tile_origin(t).is_err(), "{t}");
        }
    }
}
