//! The trade's words: what clients of a copier and printer dealer call the same thing in
//! Portuguese, Spanish and English, slang and misspellings included ("pó", "tinteiro",
//! "cartucho", "ink" are the toner; "enroscou", "se atora", "chewed" a jam; "contagens",
//! "clicks", "page count" the meter). A knowledge base is written in one word for each
//! thing; a message may use another. Each word of a group also gives the classifier the
//! group's own feature, so an article learnt with "toner" is found from "tinteiro"
//! (`model::tests::the_trade_s_words_reach_the_article_written_with_another`).
//!
//! Only words that mean the thing and little else are here: "stuck" (a login is stuck
//! too), "nota" (a note), "po" alone (Chile's "sí po") and "pin" (a bank card's) are not.

/// The group a folded word belongs to, if any.
pub fn concept(word: &str) -> Option<&'static str> {
    GROUPS
        .iter()
        .find(|(_, words)| words.contains(&word))
        .map(|(name, _)| *name)
}

/// "pó preto", "pó magenta": the toner, where "pó" alone is dust and "po" a Chilean
/// particle.
pub fn concept_of_pair(first: &str, second: &str) -> Option<&'static str> {
    const COLOURS: &[&str] = &[
        "preto", "preta", "colorido", "color", "cor", "magenta", "ciano", "cyan", "amarelo",
        "azul", "toner", "negro",
    ];
    (first == "po" && COLOURS.contains(&second)).then_some("toner")
}

const GROUPS: &[(&str, &[&str])] = &[
    (
        "toner",
        &[
            "toner",
            "toners",
            "tonner",
            "toneres",
            "tinta",
            "tintas",
            "tinteiro",
            "tinteiros",
            "cartucho",
            "cartuchos",
            "cartuxo",
            "cartridge",
            "cartridges",
            "refil",
            "refill",
            "refis",
            "ink",
            "suprimento",
            "suprimentos",
            "insumo",
            "insumos",
            "consumible",
            "consumibles",
            "supplies",
        ],
    ),
    (
        "jam",
        &[
            "atolamento",
            "atolamentos",
            "atolou",
            "atola",
            "atolando",
            "atolado",
            "atolada",
            "enroscou",
            "enrosca",
            "enroscando",
            "enroscado",
            "enroscada",
            "engasgou",
            "engasga",
            "embolou",
            "embola",
            "embolando",
            "encavalou",
            "mastiga",
            "mastigou",
            "mastigando",
            "atasco",
            "atascos",
            "atasca",
            "atascada",
            "atascado",
            "atascadas",
            "atoro",
            "atora",
            "atoran",
            "atorado",
            "atorada",
            "atorando",
            "trabo",
            "traba",
            "trabada",
            "trabado",
            "trabando",
            "arrugada",
            "arrugadas",
            "arrugado",
            "jam",
            "jams",
            "jammed",
            "jamming",
            "misfeed",
            "misfeeds",
            "crumpled",
            "chewed",
            "chews",
            "chewing",
        ],
    ),
    (
        "meter",
        &[
            "leitura",
            "leituras",
            "lectura",
            "lecturas",
            "contador",
            "contadores",
            "contagem",
            "contagens",
            "contometro",
            "contometros",
            "medidor",
            "medidores",
            "counter",
            "counters",
            "meter",
            "meters",
            "reading",
            "readings",
            "clicks",
            "cliques",
            "clics",
        ],
    ),
    (
        "password",
        &[
            "senha",
            "senhas",
            "contrasena",
            "contrasenas",
            "password",
            "passwords",
            "passcode",
        ],
    ),
    (
        "second-factor",
        &[
            "autenticador",
            "authenticator",
            "2fa",
            "mfa",
            "autenticacao",
            "autenticacion",
            "authentication",
            "verificacao",
            "verificacion",
            "verification",
        ],
    ),
    (
        "move",
        &[
            "mudanca",
            "mudancas",
            "mudanza",
            "mudanzas",
            "traslado",
            "trasladar",
            "trasladamos",
            "relocate",
            "relocation",
            "relocating",
            "removal",
            "removals",
        ],
    ),
];

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_kb::text::{fold, words};

    /// Words are looked up folded (as the classifier reads them), and each is in one group.
    #[test]
    fn each_word_is_folded_and_in_one_group() {
        for (name, list) in GROUPS {
            for w in *list {
                let folded = fold(w);
                let once: Vec<&str> = words(&folded).collect();
                assert_eq!(once, vec![*w], "{name}: {w} is not a folded word");
                let groups = GROUPS.iter().filter(|(_, l)| l.contains(w)).count();
                assert_eq!(groups, 1, "{w} is in {groups} groups");
            }
        }
        assert_eq!(concept("tinteiro"), Some("toner"));
        assert_eq!(concept("po"), None);
        assert_eq!(concept_of_pair("po", "preto"), Some("toner"));
        assert_eq!(concept_of_pair("si", "po"), None);
    }
}
