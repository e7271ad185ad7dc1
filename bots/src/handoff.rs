//! When the bot steps aside, read from the client's own words (never from the bot's):
//! an explicit request for a person, a keyword the business wants people for, anger or
//! urgency, a language the bot does not serve. Pure functions over the message text.
//!
//! An explicit request for a person is heard in en, es and pt, typos included ("humna pls",
//! "atendende"); anger or urgency in strong words, shouting, "!!!", "nobody answers"
//! (`handoff::tests::*`).

use switchboard_kb::text::{Guess, detect, fold, fold_words, likeliest, typo_budget, within_edits};

/// Why the bot hands a conversation to people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// The client asked for a person.
    Person,
    /// A word the business wants people to handle ("cancel", "chargeback").
    Keyword(String),
    /// Anger or urgency.
    Upset,
    /// Written in a language the bot does not serve.
    Language(&'static str),
}

impl Trigger {
    pub fn reason(&self) -> String {
        match self {
            Trigger::Person => "person".into(),
            Trigger::Keyword(k) => format!("keyword: {k}"),
            Trigger::Upset => "upset".into(),
            Trigger::Language(l) => format!("language: {l}"),
        }
    }
}

// People a client may ask for. "Strong" words mean a person on their own ("human",
// "atendente"); "weak" ones need a request around them ("someone", "alguien").
const STRONG: &[&str] = &[
    // en
    "human",
    "humans",
    "representative",
    "rep",
    "operator",
    "agent",
    "agents",
    "staff",
    "attendant",
    "employee",
    // es
    "humano",
    "humana",
    "asesor",
    "asesora",
    "operador",
    "operadora",
    "representante",
    "ejecutivo",
    "ejecutiva",
    "personalizada",
    "personalizado",
    "agente",
    "agentes",
    // pt
    "atendente",
    "atendentes",
    "consultor",
    "consultora",
    "operadora",
    "humanos",
];
// People who are also what clients ask about ("when does the technician come?"): a
// request for one of them needs a verb of reaching them ("falar com o gerente").
const ROLE: &[&str] = &[
    "manager",
    "supervisor",
    "technician",
    "tech",
    "encargado",
    "encargada",
    "gerente",
    "responsable",
    "tecnico",
    "tecnica",
    "supervisora",
    "gestor",
    "gestora",
    "responsavel",
];
// The roles a client asks to take a matter up with ("un reclamo con un supervisor"); a
// visit "con el técnico" is what the visits article answers.
const BOSS: &[&str] = &[
    "manager",
    "supervisor",
    "supervisora",
    "gerente",
    "gestor",
    "gestora",
    "encargado",
    "encargada",
    "responsable",
    "responsavel",
];
// "Put me through" as one word, the pronoun joined to the verb: a request, and about
// reaching someone, on its own.
const THROUGH_ME: &[&str] = &[
    "pasame",
    "paseme",
    "pasenme",
    "comunicame",
    "comuniqueme",
    "comuniquenme",
];
// Verbs of reaching someone, in the three languages (folded).
const REACH_VERB: &[&str] = &[
    "talk",
    "speak",
    "chat",
    "call",
    "contact",
    "reach",
    "hablar",
    "habla",
    "hablo",
    "pasas",
    "comunicas",
    "llamame",
    "llameme",
    "llamenme",
    "contacteme",
    "contactenme",
    "atiendame",
    "hableme",
    "comunicar",
    "comunica",
    "llame",
    "llamar",
    "llamen",
    "contactar",
    "falar",
    "falo",
    "fala",
    "conversar",
    "converse",
    "conversa",
    "chatear",
    "passa",
    "passem",
    "passar",
    "transfere",
    "transfira",
    "chamem",
    "liguem",
    "transferir",
    "chama",
    "chamar",
    "ligue",
    "ligar",
    "liga",
    "contato",
    "coloca",
    "comigo",
];
const WEAK: &[&str] = &[
    "person",
    "someone",
    "somebody",
    "anyone",
    "anybody",
    "people",
    "persona",
    "personas",
    "alguien",
    "pessoa",
    "pessoas",
    "alguem",
    "ninguem",
    "nadie",
    "support",
    "soporte",
    "suporte",
    "team",
    "equipe",
    "funcionario",
    "funcionaria",
    "empleado",
    "empleada",
    "colaborador",
    "colaboradora",
];
// Asking to be put through, in the three languages (folded), besides the verbs of
// reaching someone (`REACH_VERB`).
const REQUEST: &[&str] = &[
    "want",
    "need",
    "pasa",
    "atienda",
    "atender",
    "atiende",
    "atienden",
    "atenderme",
    "atendem",
    "quiero",
    "necesito",
    "regaleme",
    "regalame",
    "dame",
    "deme",
    "prefiero",
    "prefiro",
    "gostaria",
    "gustaria",
    "quisiera",
    "puedo",
    "atenda",
    "atende",
    "atendam",
    "atendimento",
    "quero",
    "queria",
    "preciso",
];
// Words that say "a real one": with a person word they are a request on their own.
const REAL: &[&str] = &[
    "real", "live", "actual", "verdade", "vdd", "verdad", "humano", "human", "bot", "robot", "robo",
];

fn matches(word: &str, list: &[&str]) -> bool {
    let budget = typo_budget(word);
    list.iter().any(|l| {
        *l == word || (budget > 0 && typo_budget(l) > 0 && within_edits(word, l, budget.min(1)))
    })
}

/// Whether the client asks for a person: "agent please", "quero falar com um atendente",
/// "pasame con un asesor", "humna pls", "is there an actual human?".
pub fn asks_for_person(text: &str) -> bool {
    let ws = fold_words(text);
    if ws.is_empty() {
        return false;
    }
    // Everyday words one letter from a person word are not its typos: "a gente" is
    // Portuguese for "we", not "agente"; "stuff" is not "staff"; Spanish's "equipo" is
    // the machine as often as the team, not "equipe".
    let person_word = |w: &String, list: &[&str]| {
        !["gente", "gentes", "stuff", "equipo", "equipos"].contains(&w.as_str()) && matches(w, list)
    };
    let strong = ws.iter().any(|w| person_word(w, STRONG));
    // Where the weak person words are. "falar com gente", "tem gente ai?": people, where
    // "a gente" is "we"; "customer service", "atencion al cliente": the desk's people.
    let weak_at: Vec<usize> = (0..ws.len())
        .filter(|&i| {
            let before = if i > 0 { ws[i - 1].as_str() } else { "" };
            person_word(&ws[i], WEAK)
                || (ws[i] == "gente" && ["com", "tem", "uma", "alguma"].contains(&before))
                || matches!(
                    (before, ws[i].as_str()),
                    ("customer", "service" | "care" | "support") | ("al" | "ao", "cliente")
                )
        })
        .collect();
    let weak = !weak_at.is_empty();
    // Verbs exactly: their typos too often are other words ("transfers", "transfere").
    let reaches = |w: &String| REACH_VERB.contains(&w.as_str()) || THROUGH_ME.contains(&w.as_str());
    // "me puedes pasar con mi gestor"; not "pasar la visita para otro día".
    let pass_with = ws.windows(2).any(|p| {
        ["pasar", "pasarme", "pasen", "pase", "pasame"].contains(&p[0].as_str()) && p[1] == "con"
    });
    let request = ws
        .iter()
        .any(|w| REQUEST.contains(&w.as_str()) || reaches(w))
        || deals_with(&ws);
    let real = ws.iter().any(|w| REAL.contains(&w.as_str()));
    let short = ws.len() <= 4;
    // "transfer me", "put me through", "get me someone", "connect us".
    let put_through = ws.windows(2).any(|p| {
        ["transfer", "put", "connect", "get", "let", "send"].contains(&p[0].as_str())
            && ["me", "us"].contains(&p[1].as_str())
    });
    // "con un supervisor", "com uma máquina": one of `list` that the client deals *with*.
    let with_one = |list: &[&str]| {
        ws.windows(3).any(|p| {
            ["con", "com", "with"].contains(&p[0].as_str())
                && [
                    "un", "una", "um", "uma", "el", "la", "o", "a", "mi", "meu", "minha", "my",
                    "the",
                ]
                .contains(&p[1].as_str())
                && list.contains(&p[2].as_str())
        })
    };
    // "falar com o gerente", "get me a manager"; not "when does the technician come?".
    let role = ws.iter().any(|w| ROLE.contains(&w.as_str()))
        && (put_through
            || pass_with
            || ws.iter().any(|w| reaches(w) || REAL.contains(&w.as_str()))
            || (with_one(BOSS) && ws.iter().any(|w| REQUEST.contains(&w.as_str()))));
    // "put me through", "get through to someone"; not "fed envelopes through the tray",
    // "walk me through it" or "a transfer takes days to go through".
    let through = ws.windows(3).any(|p| {
        ["put", "get", "send", "transfer", "connect"].contains(&p[0].as_str())
            && ["me", "us"].contains(&p[1].as_str())
            && ["through", "thru"].contains(&p[2].as_str())
    }) || ws
        .windows(2)
        .any(|p| p[0] == "get" && ["through", "thru"].contains(&p[1].as_str()));
    // "can i get a human on the line".
    let on_the_line = ws.windows(2).any(|p| p[0] == "the" && p[1] == "line");
    let request = request || put_through || through || on_the_line;
    let has = |list: &[&str]| ws.iter().any(|w| list.contains(&w.as_str()));
    // "nao quero falar com robo", "el bot no me entiende", "stop, no bot".
    // "no quiero hablar con una maquina", "não com assistente virtual".
    let machine = (with_one(&["maquina", "machine"]) && ws.iter().any(reaches))
        || ws.windows(2).any(|p| {
            matches!(
                (p[0].as_str(), p[1].as_str()),
                ("assistente" | "asistente", "virtual") | ("virtual", "assistant")
            )
        });
    let refuses_bot = (machine || has(&["bot", "robo", "robot", "chatbot", "robozinho"]))
        && has(&[
            "nao",
            "no",
            "not",
            "dont",
            "don",
            "stop",
            "chega",
            "basta",
            "entende",
            "understand",
        ]);
    // "me liga", "me pueden llamar?", "call us back", "llamenme".
    let call_me = (has(&[
        "liga", "ligue", "liguem", "ligar", "llamar", "llame", "llamen", "call", "ring",
    ]) && has(&["me", "us", "nos", "mim"]))
        || has(&["llamame", "llameme", "llamenme", "llamanos", "ligueme"]);
    // "hay alguien ahi?", "anyone there?", "is there anyone who can actually help".
    let anyone_there = weak
        && has(&["ai", "ahi", "there", "alo", "hello"])
        && (short
            || has(&[
                "help", "ajudar", "ajude", "ajuda", "ayudar", "ayude", "ayuda", "atender",
                "atende", "atienda",
            ]));
    // "con quién hablo?", "com quem eu falo", "who do I talk to".
    let who_to_reach = (ws.windows(2).any(|p| {
        ["con", "com"].contains(&p[0].as_str()) && ["quien", "quem"].contains(&p[1].as_str())
    }) && ws.iter().any(reaches))
        || (has(&["who"]) && has(&["talk", "speak"]));
    // "de carne e osso", "de carne y hueso", "flesh and blood": a person, on its own.
    let flesh = ws.windows(3).any(|p| {
        matches!(
            (p[0].as_str(), p[1].as_str(), p[2].as_str()),
            ("carne", "e" | "y", "osso" | "hueso") | ("flesh", "and", "blood")
        )
    });
    // "ser atendida por uma pessoa", "ser atendido por alguien".
    let be_served = ws.windows(2).any(|p| {
        ["ser", "seja", "sea", "sermos"].contains(&p[0].as_str())
            && ["atendido", "atendida", "atendidos", "atendidas"].contains(&p[1].as_str())
    });
    (strong && (short || request || real))
        || (weak && be_served)
        || role
        || (weak && (request || real) && (through || weak_at.iter().any(|&i| contact_near(&ws, i))))
        || (weak && short && real)
        || refuses_bot
        || call_me
        || anyone_there
        || who_to_reach
        || flesh
}

/// A weak person word counts when the words around it are about reaching them, not about
/// the people themselves ("add a person to the portal" is not a request), and in a long
/// story only there ("our finance team sent a transfer … does someone need to be there"
/// is not one either): a word of contact within [`NEAR`] words of `at`.
fn contact_near(ws: &[String], at: usize) -> bool {
    const REACH: &[&str] = &[
        "talk",
        "speak",
        "chat",
        "call",
        "reach",
        "me",
        "us",
        "hablar",
        "habla",
        "atencion",
        "atendimento",
        "pasas",
        "comunicas",
        "atienda",
        "atender",
        "llame",
        "falar",
        "fala",
        "falo",
        "passa",
        "transfere",
        "chama",
        "ligue",
        "atender",
        "atenderme",
        "atienden",
        "atendem",
        "contato",
        "coloca",
        "comigo",
        "get",
        "need",
        "real",
        "live",
        "actual",
        "verdade",
        "vdd",
        "verdad",
        "chamar",
        "chatear",
        "conversar",
    ];
    let from = at.saturating_sub(NEAR);
    let near = &ws[from..(at + NEAR + 1).min(ws.len())];
    deals_with(near)
        || near
            .iter()
            .any(|w| REACH.contains(&w.as_str()) || THROUGH_ME.contains(&w.as_str()))
}

/// "tratar con alguien de la empresa", "tratar o assunto com um colaborador": dealing
/// with someone (up to two words between), not "trato de imprimir".
fn deals_with(ws: &[String]) -> bool {
    (0..ws.len()).any(|i| {
        ["tratar", "trato", "trata"].contains(&ws[i].as_str())
            && ws[i + 1..(i + 4).min(ws.len())]
                .iter()
                .any(|w| ["con", "com"].contains(&w.as_str()))
    })
}

/// How far from a weak person word its word of contact may be.
const NEAR: usize = 5;

/// Phrases that need a person by default; a business sets its own.
pub const DEFAULT_KEYWORDS: &[&str] = &[
    "cancel",
    "cancellation",
    "billing dispute",
    "dispute",
    "chargeback",
    "lawyer",
    "legal action",
    "cancelar",
    "cancelacion",
    "dar de baja",
    "abogado",
    "disputa",
    "contracargo",
    "reclamar el cargo",
    "cancelamento",
    "rescindir",
    "rescisao",
    "estorno",
    "advogado",
    "procon",
];

/// The first configured keyword the message has (whole words, accents and case ignored).
pub fn keyword(text: &str, keywords: &[String]) -> Option<String> {
    let words = fold_words(text);
    let joined = format!(" {} ", words.join(" "));
    keywords.iter().find_map(|k| {
        let kw = fold_words(k).join(" ");
        if kw.is_empty() {
            return None;
        }
        // A single word also matches its inflections ("cancelled", "cancelando").
        let hit = if kw.contains(' ') {
            joined.contains(&format!(" {kw} "))
        } else {
            words.iter().enumerate().any(|(i, w)| {
                (w == &kw || (kw.len() >= 5 && w.starts_with(&kw) && w.len() <= kw.len() + 4))
                    && !pays_a_bill(w, &words[i + 1..])
                    && !names_a_trade(&words[..i])
            })
        };
        hit.then(|| k.clone())
    })
}

/// In much of Spanish-speaking America "cancelar una factura" is to pay it: a word of
/// cancelling whose object, within the next three words, is a bill or a debt.
fn pays_a_bill(word: &str, after: &[String]) -> bool {
    const BILLS: &[&str] = &[
        "factura", "facturas", "boleta", "boletas", "saldo", "deuda", "cuota", "cuotas", "recibo",
        "recibos", "monto", "importe",
    ];
    word.starts_with("cancel") && after.iter().take(3).any(|w| BILLS.contains(&w.as_str()))
}

/// "Somos un despacho de abogados": the word names the client's own trade, not a threat;
/// the word before it is "de" and the one before that a firm or an office.
fn names_a_trade(before: &[String]) -> bool {
    const FIRMS: &[&str] = &[
        "despacho",
        "estudio",
        "bufete",
        "firma",
        "escritorio",
        "oficina",
        "sociedad",
        "sociedade",
        "colegio",
        "associacao",
        "asociacion",
    ];
    matches!(before, [.., firm, de] if de == "de" && FIRMS.contains(&firm.as_str()))
}

const UPSET: &[&str] = &[
    // en
    "furious",
    "ridiculous",
    "unacceptable",
    "outrageous",
    "disgusting",
    "worst",
    "pathetic",
    "useless",
    "angry",
    "scam",
    "urgent",
    "urgently",
    "asap",
    "emergency",
    "immediately",
    "fed",
    "incompetent",
    "joke",
    "terrible",
    "horrible",
    "awful",
    // es
    "urgente",
    "indignante",
    "verguenza",
    "harto",
    "harta",
    "furioso",
    "furiosa",
    "pesimo",
    "pesima",
    "inaceptable",
    "ridiculo",
    "estafa",
    "inutil",
    "inutiles",
    "enojado",
    "enojada",
    "molesto",
    "molesta",
    "emergencia",
    "horrible",
    "desastre",
    // pt
    "absurdo",
    "palhacada",
    "pessimo",
    "pessima",
    "irritado",
    "irritada",
    "ridiculo",
    "vergonha",
    "inaceitavel",
    "piada",
    "revoltado",
    "revoltada",
    "lixo",
    "golpe",
    "urgencia",
    "emergencia",
    "raiva",
    "cansado",
    "cansada",
    "horrivel",
    "descaso",
];
const NOBODY: &[&str] = &["nobody", "nadie", "ninguem", "noone"];
const ANSWERS: &[&str] = &[
    "answered",
    "answers",
    "replied",
    "responded",
    "responde",
    "respondio",
    "contesta",
    "respondeu",
    "retorna",
    "retornou",
];

/// Whether the message is angry or urgent: strong words, shouting, a pile of "!", or
/// "nobody answers".
pub fn upset(text: &str) -> bool {
    let ws = fold_words(text);
    let mut score = 0;
    if ws.iter().any(|w| UPSET.contains(&w.as_str())) {
        score += 2;
    }
    if ws.iter().any(|w| NOBODY.contains(&w.as_str()))
        && ws.iter().any(|w| ANSWERS.contains(&w.as_str()))
    {
        score += 2;
    }
    let letters: Vec<char> = text.chars().filter(|c| c.is_alphabetic()).collect();
    let upper = letters.iter().filter(|c| c.is_uppercase()).count();
    if letters.len() >= 12 && upper * 10 >= letters.len() * 7 && ws.len() >= 3 {
        score += 2;
    }
    if text.contains("!!!") || text.contains("?!?") {
        score += 1;
    }
    score >= 2
}

/// A language the bot does not serve, when the message clearly is in one.
pub fn unserved_language(text: &str) -> Option<&'static str> {
    let d = detect(text);
    match d.guess {
        Some(g) if g.served().is_none() && d.margin >= 1.0 => Some(g.code()),
        _ => None,
    }
}

/// Checks every trigger, most specific first.
pub fn trigger(text: &str, keywords: &[String]) -> Option<Trigger> {
    if asks_for_person(text) {
        return Some(Trigger::Person);
    }
    if let Some(k) = keyword(text, keywords) {
        return Some(Trigger::Keyword(k));
    }
    if upset(text) {
        return Some(Trigger::Upset);
    }
    unserved_language(text).map(Trigger::Language)
}

/// What a message's words say of the served languages it is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    /// Its language, when its words show that one alone.
    pub own: Option<switchboard_kb::Lang>,
    /// The served languages it may be in: its own, else those its words point to as much
    /// as any other ("q significa T-01": Portuguese or Spanish); empty when they point
    /// nowhere, or only to languages the bot does not serve.
    pub may_be: Vec<switchboard_kb::Lang>,
}

/// The served languages of a message, its words read once.
pub fn served_languages(text: &str) -> Served {
    let tied = likeliest(text);
    Served {
        own: match tied.as_slice() {
            [one] => one.served(),
            _ => None,
        },
        may_be: tied.into_iter().filter_map(Guess::served).collect(),
    }
}

/// The served language a message is in, when it shows.
pub fn served_language(text: &str) -> Option<switchboard_kb::Lang> {
    served_languages(text).own
}

/// Whether the text has anything to read (letters or digits), not only emoji or symbols.
pub fn has_words(text: &str) -> bool {
    fold(text).chars().any(char::is_alphanumeric)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_for_a_person_in_three_languages_and_with_typos() {
        for t in [
            "agent please",
            "can someone put me through",
            "no quiero hablar con una maquina",
            "nao quero falar com uma maquina, quero gente",
            "pasame con mi gestor de cuenta xfa",
            "transfer me to customer service",
            "can i get a hman on the line",
            "quero conversar com alguém da equipe, não com assistente virtual",
            "pelo amor de deus alguém me atende",
            "quiero poner un reclamo con un supervisor",
            "quero resolver isso com o gerente",
            "quero falar com um responsável AGORA",
            "existe alguém aí que possa realmente me ajudar?",
            "is there anyone who can actually help",
            "quero o suporte, pessoa de carne e osso, não máquina",
            "¿Me puedes pasar con mi gestor de cuenta?",
            "regáleme un asesor por favor",
            "oye esto no me sirve, con quién hablo de a de veras?",
            "who do i talk to about this",
            "Puedo chatear con una persona de soporte?",
            "prefiro tratar direto com alguém, pode pedir pra um funcionário de vocês me chamar aqui no whats?",
            "da pra falar com gente?",
            "tem gente ai??",
            "I need to get through to a person",
            "put us thru to someone in billing",
            "talk to a human",
            "can i speak to a real person",
            "representative",
            "live agent",
            "humna pls",
            "I need to speak with someone about my bill",
            "hablar con una persona",
            "quiero un agente",
            "pasame con un asesor",
            "necesito hablar con alguien",
            "ablar con humano",
            "quero falar com um atendente",
            "me passa pra um humano",
            "atendimento humano",
            "atendende por favor",
            "pessoa real",
            "HUMAN!!!",
        ] {
            assert!(asks_for_person(t), "{t}");
        }
    }

    /// Ways clients ask for a person that no test above spells, as they write them:
    /// accents missing, slang, a story first, a bot refused rather than a person asked.
    #[test]
    fn requests_for_a_person_however_phrased() {
        let mut missed = Vec::new();
        for t in [
            // pt
            "quero falar com alguem de verdade",
            "tem alguem ai? preciso de ajuda com a fatura",
            "nao quero falar com robo",
            "me passa pro suporte por favor",
            "posso falar com um atendente?",
            "Bom dia, ja tentei de tudo e a impressora continua travando. Quero falar com um tecnico, por favor",
            "falar com o gerente",
            "chama alguem do financeiro pra mim",
            "vcs tem atendimento humano?",
            "preciso de uma pessoa pra me ajudar",
            "atendente",
            "quero atendimento com pessoa",
            "me liga por favor, meu numero e 11 98765-4321",
            "gostaria de ser atendido por uma pessoa, pode ser?",
            "da pra eu tratar isso com um colaborador de vcs?",
            "vcs atendem pessoas ou e so robo aqui",
            // es
            "puedo hablar con alguien?",
            "necesito hablar con una persona real",
            "me comunica con un asesor por favor",
            "no quiero hablar con un bot",
            "quiero hablar con el encargado",
            "hay alguien ahi?",
            "pasame con soporte",
            "ya no se que hacer, paseme con alguien por favor",
            "comuniquenme con un asesor de ventas",
            "me passem pra alguem do financeiro",
            "llamenme al 300 555 1234 cuando puedan",
            "Hola, llevo dos dias con la maquina parada y el bot no me entiende. Necesito hablar con un tecnico.",
            "me pueden llamar?",
            "atencion personalizada por favor",
            "hablar con humano",
            "quisiera ser atendida por alguien, gracias",
            "me gustaria tratar esto con alguien de ustedes, no por aca",
            "prefiero tratar el asunto con alguien de ustedes por telefono",
            "alguien del soporte puede atenderme?",
            "aqui atienden personas o solo el chat?",
            // en
            "can I speak to someone",
            "is there a real person there?",
            "i want a human",
            "get me a manager",
            "stop, I don't want to talk to a bot",
            "connect me with support please",
            "Hi, I've tried the steps and it still jams. Can someone call me?",
            "can a technician call me back?",
            "speak to a person",
            "need a real human asap",
        ] {
            if !asks_for_person(t) {
                missed.push(t);
            }
        }
        assert!(missed.is_empty(), "not heard: {missed:#?}");
    }

    #[test]
    fn questions_about_people_are_not_requests() {
        for t in [
            "how do I add a person to the portal",
            "my card has not arrived",
            "can another person use my account",
            "como adiciono uma pessoa no portal",
            "the technician left a report",
            "what is the agent fee for transfers",
            "urgent: where is the invoice pdf",
            "o bot respondeu certinho, obrigado",
            "the technician fixed it yesterday, thanks",
            "el tecnico ya vino ayer y quedo funcionando",
            "o tecnico deixou o relatorio da visita",
            // When and how the technicians work: the visits article answers these.
            "cuando viene el tecnico?",
            "tecnico atende sabado?",
            "does the technician come on weekends",
            "quero saber se o tecnico vem amanha",
            "who is the account manager for our contract?",
            // People in the client's story, not asked for.
            "the toner does not fit with the machine",
            "Buen día, nuestro contrato vence en unos meses y la verdad la máquina ya está viejita. Queremos renovar pero con un equipo más moderno, ¿cómo pido la cotización?",
            "quiero pasar la impresora al piso 4",
            "hay alguien que sepa si se puede pagar con tarjeta?",
            "who is responsible for the invoices on your side?",
            "our finance team sent a bank transfer on monday and it still shows as unpaid, does it take a few days to go through?",
            "I'm new to the admin team and have to send the page counts. Could you walk me through it?",
            "Nos propusieron que el técnico venga el jueves. ¿Se puede pasar para otro día sin que nos cobren?",
            "necesito una visita con el tecnico el jueves",
            "customer service told me the invoice was paid",
            "o toner nao encaixa com a maquina nova",
            "como adiciono um colaborador novo no portal?",
            "fui atendida ontem pelo tecnico e ficou otimo",
            "trato de imprimir y la impresora no responde",
            "atienden los sabados?",
            "nuestro colaborador no recibe el enlace de acceso",
            "Hi, someone fed envelopes through the side tray and one got chewed up, ok to use tweezers?",
            "Bom dia, a copiadora daqui parou totalmente, nem liga mais, e a gente depende dela pra imprimir as notas dos clientes. Se eu registrar isso agora em quanto tempo vcs respondem??",
        ] {
            assert!(!asks_for_person(t), "{t}");
        }
    }

    #[test]
    fn keywords_match_whole_words_and_inflections() {
        let kws: Vec<String> = DEFAULT_KEYWORDS.iter().map(|s| (*s).to_owned()).collect();
        assert_eq!(
            keyword("I want to CANCEL my contract", &kws).as_deref(),
            Some("cancel")
        );
        assert_eq!(
            keyword("we have a billing dispute", &kws).as_deref(),
            Some("billing dispute")
        );
        assert_eq!(
            keyword("quero o cancelamento", &kws).as_deref(),
            Some("cancelamento")
        );
        // The client's own trade is not a threat; a lawyer called in still is.
        for trade in [
            "Somos un despacho de abogados en Guadalajara, cuándo llega el técnico?",
            "sou do escritorio de advogados, como pago a fatura",
            "trabajo en un estudio de abogados y no me llega el link",
        ] {
            assert_eq!(keyword(trade, &kws), None, "{trade}");
        }
        assert_eq!(
            keyword("voy a llamar a mis abogados", &kws).as_deref(),
            Some("abogado")
        );
        assert_eq!(
            keyword("queremos dar de baja el contrato", &kws).as_deref(),
            Some("dar de baja")
        );
        assert_eq!(
            keyword("the pay was cancelled?", &kws).as_deref(),
            Some("cancel")
        );
        assert_eq!(keyword("what is the balance", &kws), None);
        // "Cancelar la factura" is paying it in much of Spanish-speaking America.
        assert_eq!(
            keyword("quiero cancelar la factura de abril con tarjeta", &kws),
            None
        );
        assert_eq!(keyword("como cancelo el saldo pendiente?", &kws), None);
        // Cancelling a payment is not paying.
        assert!(keyword("quiero cancelar el pago que hice ayer", &kws).is_some());
        assert!(keyword("quiero cancelar el contrato y la factura", &kws).is_some());
    }

    #[test]
    fn anger_and_urgency() {
        assert!(upset("THIS IS RIDICULOUS!!! third time"));
        assert!(upset("WHY DOES NOTHING EVER GET FIXED"));
        assert!(upset("ninguem responde meu chamado"));
        assert!(upset("URGENTE la maquina no funciona"));
        assert!(!upset("how do I pay my invoice?"));
        assert!(!upset("Thanks!"));
        assert!(!upset("PDF"));
    }

    #[test]
    fn spanish_and_portuguese_slang_is_told_apart() {
        use switchboard_kb::Lang;
        for (t, l) in [
            ("pq no se puede bajar el archivo?", Lang::Es),
            ("pq nao da pra baixar o arquivo?", Lang::Pt),
            ("no me llega el correo", Lang::Es),
            ("o cartao foi recusado, tem outro jeito de pagar?", Lang::Pt),
            ("se me olvido la clave de la cuenta", Lang::Es),
        ] {
            assert_eq!(served_language(t), Some(l), "{t}");
        }
    }

    #[test]
    fn unserved_languages_are_recognised() {
        assert_eq!(
            unserved_language("Bonjour, je veux parler à quelqu'un"),
            Some("fr")
        );
        assert_eq!(
            unserved_language("Wo finde ich meine Rechnungen?"),
            Some("de")
        );
        assert_eq!(
            unserved_language("Guten Tag, unser Drucker zeigt einen Fehler an, was bedeutet das?"),
            Some("de")
        );
        assert_eq!(
            unserved_language("Non riesco ad accedere al portale, ho perso la password"),
            Some("it")
        );
        assert_eq!(
            unserved_language("Buongiorno, dove invio la lettura del contatore?"),
            Some("it")
        );
        assert_eq!(
            unserved_language("Notre imprimante affiche un code d'erreur depuis ce matin"),
            Some("fr")
        );
        assert_eq!(unserved_language("quero pagar a fatura"), None);
        assert_eq!(unserved_language("no me llega el correo para entrar"), None);
        assert_eq!(unserved_language("ok"), None);
    }
}
