//! Which of a company's machines a message names, by serial number or asset tag, as
//! clients write them: any case, with or without the dashes, dots, slashes or a space in
//! the middle ("série E174-M123456", "patrimônio PAT 0042", "s/n: e174m123456").
//!
//! Pure: the caller passes the company's machines. Only whole words count (a serial is
//! never found inside a longer number), and only words of at least four characters with a
//! digit, so "the" or "mp" alone name nothing. Also the machines of an import file
//! (`read_csv`). Tests: `machines::tests`.

/// A machine as the matcher needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    pub id: String,
    pub serial: String,
    pub asset_tag: Option<String>,
}

/// A serial or tag made comparable: upper case, letters and digits only.
pub fn normal(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Whether a normalized code can name a machine: four characters or more, one a digit.
fn codelike(code: &str) -> bool {
    code.len() >= 4 && code.chars().any(|c| c.is_ascii_digit())
}

/// The machines `text` names, each once, in the order they are first named.
pub fn named<'a>(text: &str, machines: &'a [Known]) -> Vec<&'a Known> {
    // Words split on what never sits inside a code; dashes, dots and slashes inside a word
    // are kept for `normal` to drop.
    let words: Vec<String> = text
        .split(|c: char| c.is_whitespace() || ",;:()[]{}\"'!?".contains(c))
        .map(|w| normal(w.trim_matches(|c: char| c == '.' || c == '-' || c == '/')))
        .filter(|w| !w.is_empty())
        .collect();
    // Each word, and each word joined with the next (a code written with a space).
    let mut candidates: Vec<String> = Vec::with_capacity(words.len() * 2);
    for (i, w) in words.iter().enumerate() {
        candidates.push(w.clone());
        if let Some(next) = words.get(i + 1) {
            candidates.push(format!("{w}{next}"));
        }
    }
    let mut out: Vec<&Known> = Vec::new();
    for c in candidates.iter().filter(|c| codelike(c)) {
        for m in machines {
            let hit =
                normal(&m.serial) == *c || m.asset_tag.as_deref().is_some_and(|t| normal(t) == *c);
            if hit && !out.iter().any(|o| o.id == m.id) {
                out.push(m);
            }
        }
    }
    out
}

/// What a client's message about a machine asks for, as far as its words tell: a kind of
/// request (`failure`, `toner`, `support`) and, for toner, the colours named. A guess for
/// the desk to confirm, never a promise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asked {
    pub kind: &'static str,
    pub toner: Vec<&'static str>,
}

/// Accents and case folded, so "não imprime", "nao imprime" and "NÃO IMPRIME" read alike.
fn fold(text: &str) -> String {
    text.to_lowercase()
        .chars()
        .map(|c| match c {
            'á' | 'à' | 'â' | 'ã' | 'ä' => 'a',
            'é' | 'ê' | 'è' | 'ë' => 'e',
            'í' | 'ì' | 'î' | 'ï' => 'i',
            'ó' | 'ò' | 'ô' | 'õ' | 'ö' => 'o',
            'ú' | 'ù' | 'û' | 'ü' => 'u',
            'ç' => 'c',
            'ñ' => 'n',
            c => c,
        })
        .collect()
}

/// Words that say a machine needs toner or ink, in en, es and pt, as typed.
const TONER_WORDS: &[&str] = &[
    "toner",
    "tonner",
    "toners",
    "cartucho",
    "cartuchos",
    "cartridge",
    "cartridges",
    "tinta",
    "refil",
];
/// Words and stems that say a machine fails, in en, es and pt, as typed (folded).
const FAILURE_WORDS: &[&str] = &[
    "parou",
    "parada",
    "parado",
    "nao liga",
    "no enciende",
    "won't turn on",
    "wont turn on",
    "not turning on",
    "nao imprime",
    "no imprime",
    "won't print",
    "wont print",
    "not printing",
    "doesn't print",
    "doesnt print",
    "nao funciona",
    "no funciona",
    "not working",
    "doesn't work",
    "doesnt work",
    "stopped working",
    "erro",
    "error",
    "falha",
    "falla",
    "fallo",
    "defeito",
    "defecto",
    "atola",
    "atolando",
    "atolada",
    "atolado",
    "atasca",
    "atascada",
    "atascado",
    "atasco",
    "enganch",
    "jam",
    "jammed",
    "jams",
    "quebr",
    "rota",
    "roto",
    "broken",
    "travad",
    "travando",
    "trava",
    "bloquead",
    "mancha",
    "manchando",
    "listra",
    "raya",
    "rayas",
    "streak",
    "smudg",
    "barulho",
    "ruido",
    "noise",
    "apagad",
    "queimad",
    "burn",
    "codigo sc",
    "code sc",
    "sc5",
    "sc3",
    "sc2",
];

fn has_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        // A stem may run on ("quebr" in "quebrou"); a short word stands alone.
        let starts = before.is_none_or(|c| !c.is_alphanumeric());
        let ends = word.len() >= 5 || after.is_none_or(|c| !c.is_alphanumeric());
        starts && ends
    })
}

/// What `text` asks about a machine (see [`Asked`]). Toner wins over a failure ("the toner
/// ran out and it stopped printing" is a toner request); no colour named is black.
pub fn asked(text: &str) -> Asked {
    let t = fold(text);
    if TONER_WORDS.iter().any(|w| has_word(&t, w)) {
        let mut toner: Vec<&'static str> = Vec::new();
        let colours: [(&str, &[&str]); 4] = [
            (
                "black",
                &[
                    "black", "preto", "preta", "negro", "negra", "pb", "p&b", "mono",
                ],
            ),
            ("cyan", &["cyan", "ciano", "cian", "azul", "blue"]),
            ("magenta", &["magenta", "rosa", "pink"]),
            (
                "yellow",
                &["yellow", "amarelo", "amarela", "amarillo", "amarilla"],
            ),
        ];
        for (colour, words) in colours {
            if words.iter().any(|w| has_word(&t, w)) {
                toner.push(colour);
            }
        }
        if toner.is_empty() {
            toner.push("black");
        }
        return Asked {
            kind: "toner",
            toner,
        };
    }
    let kind = if FAILURE_WORDS.iter().any(|w| has_word(&t, w)) {
        "failure"
    } else {
        "support"
    };
    Asked {
        kind,
        toner: Vec::new(),
    }
}

/// A machine read from an import file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The file's row number (the header is row 1).
    pub row: usize,
    pub company_id: String,
    pub model: String,
    pub serial: String,
    pub maker: Option<String>,
    pub location: Option<String>,
    pub asset_tag: Option<String>,
    /// Day number.
    pub installed_on: Option<i64>,
    pub status: String,
}

/// The statuses a machine may have (as the store keeps them).
pub const STATUSES: &[&str] = &["in_service", "down", "maintenance", "removed"];

/// Machines from a spreadsheet's CSV. Columns (header row, any order): `company_id`,
/// `model`, `serial` (required), `maker`, `location`, `asset_tag`, `installed_on`
/// (`YYYY-MM-DD`), `status` (default `in_service`). Every row is checked before anything is
/// made; the problems come back each with its row number, and with any problem the caller
/// imports nothing. A serial twice in the file, or a tag twice in one company, is a
/// problem of the later row.
pub fn read_csv(text: &str) -> Result<Vec<Row>, Vec<String>> {
    let records = crate::csv::records(text).map_err(|e| vec![e])?;
    let Some((header, rows)) = records.split_first() else {
        return Err(vec!["the file is empty".into()]);
    };
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(name))
    };
    let mut problems = Vec::new();
    let required = ["company_id", "model", "serial"];
    for name in required {
        if col(name).is_none() {
            problems.push(format!("row 1: no {name} column"));
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut out: Vec<Row> = Vec::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        let row = i + 2;
        let get = |name: &str| {
            col(name)
                .and_then(|c| r.get(c))
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let mut bad = |why: String| problems.push(format!("row {row}: {why}"));
        let (company_id, model, serial) = (get("company_id"), get("model"), get("serial"));
        for (name, v) in required.iter().zip([&company_id, &model, &serial]) {
            if v.is_none() {
                bad(format!("{name} is empty"));
            }
        }
        let installed_on = match get("installed_on") {
            None => None,
            Some(d) => match crate::locale::parse_date(&d) {
                Some(day) => Some(day),
                None => {
                    bad(format!("installed_on {d:?} is not a date (YYYY-MM-DD)"));
                    None
                }
            },
        };
        let status = get("status").unwrap_or_else(|| "in_service".into());
        if !STATUSES.contains(&status.as_str()) {
            bad(format!(
                "status {status:?} is not one of {}",
                STATUSES.join(", ")
            ));
        }
        let (Some(company_id), Some(model), Some(serial)) = (company_id, model, serial) else {
            continue;
        };
        let asset_tag = get("asset_tag");
        if let Some(o) = out.iter().find(|o| normal(&o.serial) == normal(&serial)) {
            bad(format!("serial {serial} is on row {} too", o.row));
        }
        if let Some(tag) = &asset_tag
            && let Some(o) = out.iter().find(|o| {
                o.company_id == company_id
                    && o.asset_tag
                        .as_deref()
                        .is_some_and(|t| normal(t) == normal(tag))
            })
        {
            bad(format!("asset tag {tag} is on row {} too", o.row));
        }
        out.push(Row {
            row,
            company_id,
            model,
            serial,
            maker: get("maker"),
            location: get("location"),
            asset_tag,
            installed_on,
            status,
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
    fn a_machine_file_is_read_whole_or_refused_row_by_row() {
        let good = "serial,model,company_id,maker,location,asset_tag,installed_on,status\r\n\
                    E174M123456,MP 301,acme,Ricoh,\"Av. Paulista, 1578\",PAT-1,2024-02-29,\r\n\
                    CNB9K12345,LaserJet M404,acme,HP,,,,down\r\n";
        let rows = read_csv(good).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].location.as_deref(), Some("Av. Paulista, 1578"));
        assert_eq!(
            rows[0].installed_on,
            crate::locale::parse_date("2024-02-29")
        );
        assert_eq!(rows[0].status, "in_service");
        assert_eq!((rows[1].row, rows[1].status.as_str()), (3, "down"));
        let bad = "company_id,model,serial,installed_on,status,asset_tag\n\
                   acme,MP 301,E1,2024-02-30,,T1\n\
                   acme,,E2,,broken,\n\
                   acme,MP 301,e-1,,,t-1\n\
                   globex,MP 301,E3,,,T1\n";
        assert_eq!(
            read_csv(bad).unwrap_err(),
            vec![
                "row 2: installed_on \"2024-02-30\" is not a date (YYYY-MM-DD)".to_owned(),
                "row 3: model is empty".into(),
                "row 3: status \"broken\" is not one of in_service, down, maintenance, removed"
                    .into(),
                "row 4: serial e-1 is on row 2 too".into(),
                "row 4: asset tag t-1 is on row 2 too".into(),
            ]
        );
        assert_eq!(
            read_csv("model,serial\nx,y\n").unwrap_err(),
            vec!["row 1: no company_id column".to_owned()]
        );
        assert_eq!(
            read_csv("").unwrap_err(),
            vec!["the file is empty".to_owned()]
        );
        assert!(read_csv("company_id,model,serial\n\"acme,x,y\n").is_err());
    }

    fn fleet() -> Vec<Known> {
        let k = |id: &str, serial: &str, tag: Option<&str>| Known {
            id: id.into(),
            serial: serial.into(),
            asset_tag: tag.map(str::to_owned),
        };
        vec![
            k("ricoh", "E174M123456", Some("PAT-0042")),
            k("hp", "CNB9K12345", None),
            k("kyocera", "LV94-1212", Some("FIN 7")),
            k("short", "2024", None),
        ]
    }

    fn ids(text: &str) -> Vec<String> {
        named(text, &fleet())
            .into_iter()
            .map(|m| m.id.clone())
            .collect()
    }

    #[test]
    fn serials_and_tags_are_found_as_clients_write_them() {
        assert_eq!(
            ids("A Ricoh de série E174-M123456 parou de imprimir"),
            ["ricoh"]
        );
        assert_eq!(ids("s/n: e174m123456, está travando"), ["ricoh"]);
        assert_eq!(ids("la impresora PAT 0042 no tiene tóner"), ["ricoh"]);
        assert_eq!(ids("patrimônio pat-0042."), ["ricoh"]);
        assert_eq!(
            ids("HP serial CNB9K12345 and the Kyocera LV94 1212 both jam"),
            ["hp", "kyocera"]
        );
        assert_eq!(ids("reading for lv94-1212: 45,210"), ["kyocera"]);
        // Named twice, listed once.
        assert_eq!(ids("E174M123456 again: E174M123456"), ["ricoh"]);
    }

    #[test]
    fn what_is_asked_is_read_from_the_words_in_three_languages() {
        let kind = |t: &str| asked(t).kind;
        for t in [
            "Acabou o toner preto da E174M123456",
            "acabo el toner de la impresora",
            "we're out of toner on the 2nd floor copier",
            "precisamos de cartucho",
            "Bom dia, a impressora PAT-0042 esta sem tonner e parou de imprimir",
        ] {
            assert_eq!(kind(t), "toner", "{t}");
        }
        for t in [
            "a impressora parou",
            "NAO IMPRIME NADA",
            "não liga desde ontem",
            "la copiadora no funciona, muestra un error",
            "paper keeps jamming... it jams every 3 pages",
            "está atolando papel",
            "the printer is broken",
            "aparece o codigo SC542 no painel",
            "impresion con rayas negras",
            "quebrou a bandeja",
        ] {
            assert_eq!(kind(t), "failure", "{t}");
        }
        for t in [
            "como faço para escanear para o e-mail?",
            "how do I set up scan to folder",
            "quisiera cambiar la dirección de facturación",
            "terror movie night",
            "the errand boy will pick it up",
        ] {
            assert_eq!(kind(t), "support", "{t}");
        }
        assert_eq!(
            asked("toner ciano e amarelo, por favor").toner,
            ["cyan", "yellow"]
        );
        assert_eq!(
            asked("necesito tóner negro y magenta").toner,
            ["black", "magenta"]
        );
        assert_eq!(asked("out of toner").toner, ["black"]);
        assert_eq!(asked("toner azul acabou").toner, ["cyan"]);
    }

    #[test]
    fn nothing_is_found_inside_other_words_or_in_short_codes() {
        for text in [
            "",
            "my printer is broken",
            "call me on 5511987654321",
            "XE174M1234567 is not ours",
            "a MP 301 parou",
        ] {
            assert!(ids(text).is_empty(), "{text}: {:?}", ids(text));
        }
        // A tag written with a space is one code once joined: "FIN 7" is "FIN7".
        assert_eq!(ids("FIN 7 copies"), ["kyocera"]);
        // A serial of digits alone is whole-word only.
        assert_eq!(ids("serial 2024"), ["short"]);
        assert!(ids("20245").is_empty());
    }
}
