//! Text as people type it: folded (lower case, no accents), cut into words, its language
//! guessed. Pure functions, shared by the index, the bot and the help center.
//!
//! Typos are counted as Damerau–Levenshtein distance. A short message's language is guessed
//! among en, es, pt and the neighbours fr, de, it, ca, gl from marker words and letters
//! (`text::tests::short_messages_get_their_language`).

pub use switchboard_core::text::{fold, slugify};

/// The words of a folded text: runs of letters and digits.
pub fn words(folded: &str) -> impl Iterator<Item = &str> {
    folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
}

/// Folds and squeezes letters repeated three times or more ("pleeeease" → "please",
/// "!!!" stays out since only letters are words): what a client's emphasis does to words.
pub fn fold_words(text: &str) -> Vec<String> {
    let folded = fold(text);
    words(&folded).map(squeeze).collect()
}

fn squeeze(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    let mut last = '\0';
    let mut run = 0;
    for c in word.chars() {
        if c == last {
            run += 1;
        } else {
            run = 1;
            last = c;
        }
        if run <= 2 {
            out.push(c);
        }
    }
    out
}

/// Damerau–Levenshtein distance (adjacent transpositions cost one), stopping early once it
/// exceeds `max`: typo tolerance for short word lists.
pub fn within_edits(a: &str, b: &str, max: usize) -> bool {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len().abs_diff(b.len()) > max {
        return false;
    }
    let w = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * w];
    for (j, cell) in d.iter_mut().take(w).enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        d[i * w] = i;
        let mut row_min = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[(i - 1) * w + j] + 1)
                .min(d[i * w + j - 1] + 1)
                .min(d[(i - 1) * w + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[(i - 2) * w + j - 2] + 1);
            }
            d[i * w + j] = v;
            row_min = row_min.min(v);
        }
        if row_min > max {
            return false;
        }
    }
    d[a.len() * w + b.len()] <= max
}

/// How many typos a word of this length may carry and still be recognised.
pub fn typo_budget(word: &str) -> usize {
    match word.chars().count() {
        0..=3 => 0,
        4..=7 => 1,
        _ => 2,
    }
}

/// Languages the guesser tells apart: the three served ones and the neighbours most often
/// mistaken for them, so "a language the bot does not serve" can be recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Guess {
    En,
    Es,
    Pt,
    Fr,
    De,
    It,
    /// Catalan and Galician: written by clients in Spain, read often as Spanish or
    /// Portuguese by a guesser that knows only those.
    Ca,
    Gl,
    /// Basque, which shares almost nothing with its neighbours.
    Eu,
    /// Dutch, whose short words English's list would otherwise take ("de printer heeft
    /// geen toner meer").
    Nl,
}

impl Guess {
    pub fn code(self) -> &'static str {
        match self {
            Guess::En => "en",
            Guess::Es => "es",
            Guess::Pt => "pt",
            Guess::Fr => "fr",
            Guess::De => "de",
            Guess::It => "it",
            Guess::Ca => "ca",
            Guess::Gl => "gl",
            Guess::Eu => "eu",
            Guess::Nl => "nl",
        }
    }

    pub fn served(self) -> Option<crate::Lang> {
        match self {
            Guess::En => Some(crate::Lang::En),
            Guess::Es => Some(crate::Lang::Es),
            Guess::Pt => Some(crate::Lang::Pt),
            _ => None,
        }
    }
}

/// A language guess and how clearly the text showed it: `margin` is the lead of the best
/// language over the next, in marker words; 0 means no evidence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detected {
    pub guess: Option<Guess>,
    pub margin: f32,
}

// Frequent short words of each language, folded, chosen to overlap little. Words shared by
// two languages ("de", "que", "a", "no") are left out: they prove nothing.
const EN: &[&str] = &[
    "the", "is", "are", "my", "i", "you", "to", "and", "it", "not", "can", "how", "what", "do",
    "does", "have", "has", "with", "for", "this", "that", "was", "why", "where", "when", "of",
    "get", "need", "want", "please", "pls", "plz", "im", "dont", "cant", "didnt", "hi", "hello",
    "thanks", "an", "be", "been", "will", "would", "should", "there", "your", "me", "on", "in",
    "u", "isnt", "wont", "doesnt", "from", "which", "who", "am", "help", "still", "just", "thx",
    "ty", "ur", "wanna", "gonna", "whats", "hey", "yeah", "we", "our", "they", "if", "or", "but",
    "got", "keeps", "again", "printer", "invoice", "bill",
];
const ES: &[&str] = &[
    // apologies ("perdón, me equivoqué de número")
    "perdon",
    "disculpa",
    "disculpe",
    "disculpen",
    "equivoque",
    "equivocado",
    "equivocada",
    "el",
    "los",
    "las",
    "es",
    "mi",
    "mis",
    "y",
    "por",
    "para",
    "con",
    "una",
    "un",
    "como",
    "cuando",
    "donde",
    "porque",
    "pero",
    "muy",
    "esta",
    "estoy",
    "tengo",
    "quiero",
    "necesito",
    "puedo",
    "hola",
    "gracias",
    "usted",
    "yo",
    "hay",
    "ya",
    "del",
    "al",
    "lo",
    "le",
    "su",
    "sus",
    "tu",
    "favor",
    "la",
    "cuanto",
    "cuesta",
    "nueva",
    "nuevo",
    "ahora",
    "hoy",
    "bien",
    "pido",
    "pedir",
    "sale",
    "tarda",
    "ese",
    "esa",
    "eso",
    "nos",
    "hacemos",
    "tenemos",
    "hacer",
    "llega",
    "llego",
    "cual",
    "todavia",
    "aun",
    "ayuda",
    "ha",
    "he",
    "son",
    "mas",
    "sin",
    "tambien",
    "hablar",
    "persona",
    "factura",
    "q",
    "x",
    // Shared with Portuguese, so that neither wins on them alone ("pq no se descarga").
    "no",
    "pq",
    // Words of the service desk and of every day that Portuguese spells otherwise.
    "otro",
    "otra",
    "entonces",
    "mucho",
    "mucha",
    "muchas",
    "muchos",
    "bueno",
    "buenas",
    "buenos",
    "pues",
    "ustedes",
    "vosotros",
    "puede",
    "pueden",
    "tiene",
    "tienen",
    "quisiera",
    "hasta",
    "ahi",
    "siempre",
    "cuenta",
    "correo",
    "clave",
    "contrasena",
    "impresora",
    "atasco",
    "atascada",
    "atascado",
    "atasca",
    "hoja",
    "hojas",
    "manana",
    "recibir",
    "tarjeta",
    "descargar",
    "bajar",
    "directo",
    "llamar",
    // Everyday spellings and words of the regions (Mexico, the River Plate, Chile,
    // Colombia, Spain) that no other language writes.
    "wey",
    "guey",
    "weon",
    "boludo",
    "parce",
    "tenes",
    "podes",
    "queres",
    "porfa",
    "xfa",
    "xq",
    "tmb",
    "ahorita",
    "nomas",
    "dale",
    "chido",
    "guay",
    "oye",
    "oigan",
    "aca",
    "estan",
    "boleta",
    "arriendo",
];
const PT: &[&str] = &[
    "o",
    "os",
    "as",
    "e",
    "meu",
    "minha",
    "meus",
    "minhas",
    "nao",
    "com",
    "uma",
    "um",
    "para",
    "pra",
    "pro",
    "por",
    "como",
    "quando",
    "onde",
    "porque",
    "pq",
    "mas",
    "muito",
    "esta",
    "estou",
    "tenho",
    "quero",
    "preciso",
    "posso",
    "ola",
    "oi",
    "obrigado",
    "obrigada",
    "voce",
    "vc",
    "eu",
    "ja",
    "do",
    "da",
    "dos",
    "das",
    "no",
    "na",
    "nos",
    "nas",
    "ao",
    "seu",
    "sua",
    "favor",
    "fazer",
    "chegou",
    "qual",
    "ainda",
    "ajuda",
    "tem",
    "sao",
    "mais",
    "sem",
    "tambem",
    "falar",
    "pessoa",
    "fatura",
    "pagamento",
    "consigo",
    "tb",
    "tbm",
    "q",
    "ta",
    // Words of the service desk that Spanish spells otherwise.
    "impressora",
    "atolamento",
    "atolado",
    "atolada",
    "atola",
    "encravado",
    "encravou",
    "atolado",
    "atolada",
    "atolou",
    "atolando",
    "preso",
    "presa",
    "travou",
    "travando",
    "travada",
    "senha",
    "boleto",
    "conta",
    "endereco",
    "cobranca",
    "vcs",
    "voces",
    "hj",
    "hoje",
    "ontem",
    "agora",
    "mudar",
    "mudanca",
    "trocar",
    "escritorio",
    "folha",
    "folhas",
    "leitura",
    "faturas",
    "gente",
    "entao",
    "isso",
    "essa",
    "esse",
    "ele",
    "ela",
    "foi",
    "vai",
    "vou",
    "sai",
    "saindo",
    "saiu",
    "cartao",
    "baixar",
    "direto",
    "amanha",
    "chave",
    "coisa",
    "outro",
    "outra",
    "tudo",
    "sempre",
    "receber",
    "ate",
    "chegar",
    "cadastro",
    "obg",
    "valeu",
    "blz",
    "nosso",
    "nossa",
    "estao",
    "equipamento",
    "peco",
    "bom",
    "boa",
    "noite",
    // Everyday spellings of the chat.
    "oq",
    "mt",
    "mto",
    "td",
    "msg",
    "pfv",
    "vlw",
    "dps",
    "qdo",
    "qnd",
    "tava",
    "cade",
    "pelo",
    "pela",
    "num",
    "numa",
    "dele",
    "dela",
    "deles",
    "tao",
    "fica",
    "ficou",
    "ficar",
    "grana",
    "dinheiro",
    "reais",
    "conserta",
    "consertar",
    "arrumar",
    "pode",
    "podem",
];
const FR: &[&str] = &[
    "le",
    "les",
    "la",
    "est",
    "je",
    "mon",
    "ma",
    "mes",
    "et",
    "pour",
    "avec",
    "une",
    "un",
    "comment",
    "quand",
    "ou",
    "pourquoi",
    "mais",
    "tres",
    "suis",
    "ai",
    "veux",
    "besoin",
    "peux",
    "bonjour",
    "merci",
    "vous",
    "nous",
    "pas",
    "ne",
    "du",
    "des",
    "au",
    "aux",
    "votre",
    "ce",
    "cette",
    "il",
    "elle",
    "parler",
    "facture",
    "aide",
    "toujours",
    "encore",
    "qui",
    "notre",
    "imprimante",
    "bourrage",
    "coince",
    "coincee",
    "photocopieuse",
    "copieur",
    "bonsoir",
    "salut",
    "plait",
    "mot",
    "compte",
    "envoyer",
    "recu",
    "depuis",
    "avons",
    "avez",
    "sont",
    "etre",
    "fait",
    "faire",
    "quoi",
    "combien",
    "dois",
    "faut",
    "bureau",
    "papier",
    "coince",
    "compteur",
    "mensuelle",
    "afficher",
    "affiche",
    "erreur",
    "toutes",
    "tous",
    "tout",
    "factures",
    "telecharger",
    "annee",
    "derniere",
    "dernier",
    "nos",
    "vos",
    "leur",
    "dans",
    "sur",
    "chez",
    "aujourd",
    "hui",
    "demain",
    "semaine",
    "mois",
];
const DE: &[&str] = &[
    "der",
    "die",
    "das",
    "ist",
    "ich",
    "mein",
    "meine",
    "und",
    "fur",
    "mit",
    "eine",
    "ein",
    "wie",
    "wann",
    "wo",
    "warum",
    "aber",
    "sehr",
    "bin",
    "habe",
    "will",
    "brauche",
    "kann",
    "hallo",
    "danke",
    "sie",
    "wir",
    "nicht",
    "kein",
    "keine",
    "den",
    "dem",
    "zu",
    "auf",
    "ihr",
    "sprechen",
    "rechnung",
    "hilfe",
    "noch",
    "immer",
    "bitte",
    "mich",
    "mir",
    "es",
    "unser",
    "unsere",
    "unseren",
    "unserem",
    "zeigt",
    "bedeutet",
    "auf",
    "bei",
    "von",
    "vom",
    "zum",
    "zur",
    "sind",
    "wird",
    "werden",
    "haben",
    "hat",
    "konnen",
    "muss",
    "mussen",
    "uns",
    "einen",
    "einem",
    "einer",
    "nach",
    "gibt",
    "geht",
    "funktioniert",
    "drucker",
    "papierstau",
    "stau",
    "klemmt",
    "im",
    "was",
    "tun",
    "kopierer",
    "seit",
    "schon",
    "jetzt",
    "heute",
    "gestern",
    "guten",
    "tag",
    "vielen",
    "dank",
    "firma",
    "buro",
    "bezahlen",
    "passwort",
    "anmelden",
    "zugang",
    "zahlerstand",
    "fehler",
];
const IT: &[&str] = &[
    "il",
    "lo",
    "gli",
    "le",
    "e",
    "mio",
    "mia",
    "miei",
    "per",
    "con",
    "una",
    "uno",
    "come",
    "quando",
    "dove",
    "perche",
    "ma",
    "molto",
    "sono",
    "ho",
    "voglio",
    "devo",
    "posso",
    "ciao",
    "grazie",
    "lei",
    "noi",
    "non",
    "del",
    "della",
    "dei",
    "al",
    "alla",
    "suo",
    "parlare",
    "fattura",
    "aiuto",
    "ancora",
    "chi",
    "questo",
    "questa",
    "buongiorno",
    "sto",
    "salve",
    "vorrei",
    "potete",
    "potreste",
    "avete",
    "abbiamo",
    "nostro",
    "nostra",
    "nostri",
    "vostro",
    "vostra",
    "stampante",
    "fotocopiatrice",
    "pagare",
    "bolletta",
    "anche",
    "piu",
    "ufficio",
    "dimenticato",
    "ricevuto",
    "arriva",
    "funziona",
    "sul",
    "nel",
    "nella",
    "dal",
    "dalla",
    "degli",
    "delle",
    "sulla",
    "agli",
    "qualcuno",
    "lettura",
    "mensile",
    "contatore",
    "portale",
    "errore",
    "codice",
    "accedere",
    "riesco",
    "la",
    "un",
    "ha",
    "si",
    "inceppamento",
    "inceppata",
    "inceppato",
    "inceppa",
    "risolvo",
    "risolvere",
];

// Catalan: its own short words ("puc", "amb", "aquest", "els"), none Spanish's or
// Portuguese's.
const CA: &[&str] = &[
    // the words it shares with Spanish, which count for both (a tie is read as Spanish,
    // which the bot serves; Catalan shows in its own words below)
    "la",
    "el",
    "un",
    "una",
    "no",
    "del",
    "al",
    "hola",
    "he",
    "es",
    "bona",
    "tarda",
    "qui",
    // the months that are its own
    "gener",
    "febrer",
    "maig",
    "juny",
    "juliol",
    "setembre",
    "novembre",
    "desembre",
    // the article and preposition before a vowel ("l'oficina", "d'aquest"), and "per",
    // which Italian shares
    "l",
    "d",
    "per",
    "em",
    // "i" (and), "s'ha", "com", which English, Portuguese and Catalan share
    "i",
    "s",
    "com",
    "full",
    "fulls",
    "treure",
    "encallat",
    "encallada",
    "puc",
    "pots",
    "pot",
    "podeu",
    "poden",
    "hem",
    "heu",
    "ens",
    "amb",
    "aquest",
    "aquesta",
    "aquests",
    "aquestes",
    "aixo",
    "els",
    "dels",
    "als",
    "pels",
    "tinc",
    "tenim",
    "teniu",
    "vull",
    "voldria",
    "voldriem",
    "gracies",
    "moltes",
    "bon",
    "fer",
    "perque",
    "quan",
    "quin",
    "quina",
    "quins",
    "sisplau",
    "tambe",
    "doncs",
    "encara",
    "mateix",
    "molt",
    "nostra",
    "nostre",
    "vostra",
    "vostre",
    "meva",
    "seva",
    "avui",
    "dema",
    "ahir",
    "setmana",
    "comptador",
    "demanar",
    "traslladem",
    "trasllat",
    "rebut",
    "rebre",
    "bustia",
    "correu",
    "contrasenya",
    "enllac",
    "ho",
    "li",
    "algu",
    "res",
    "imprimeix",
    "soroll",
    "estrany",
    "esperem",
    "tecnic",
];
// Galician: its own words ("xa", "unha", "grazas", "hoxe", "cando"), none
// Portuguese's or Spanish's.
const GL: &[&str] = &[
    // the words it shares with Portuguese or Spanish, which count for both
    "un",
    "como",
    "para",
    "no",
    "o",
    "e",
    "ola",
    "bos",
    "xa",
    "non",
    "podo",
    "ten",
    "teno",
    "grazas",
    "moitas",
    "moito",
    "moi",
    "unha",
    "unhas",
    "algunha",
    "coa",
    "coas",
    "cos",
    "dun",
    "dunha",
    "nunha",
    "nun",
    "polo",
    "pola",
    "polos",
    "hoxe",
    "onte",
    "tamen",
    "cando",
    "facer",
    "fago",
    "fixen",
    "vostede",
    "vostedes",
    "ligazon",
    "enderezo",
    "xunto",
    "xente",
    "traballo",
    "dende",
    "despois",
    "noso",
    "nosa",
    "voso",
    "vosa",
    "mina",
    "agardando",
    "cunha",
    "persoa",
    "erro",
    "deste",
    "desta",
    "levamos",
    "quitalo",
    "quedou",
    // "hai" (there is), the second person plural in -edes ("podedes", "tedes"), "atopar"
    // (to find), and the months that are its own
    "hai",
    "podedes",
    "tedes",
    "sabedes",
    "queredes",
    "facedes",
    "atopo",
    "atopar",
    "atopei",
    "xaneiro",
    "febreiro",
    "xuno",
    "xullo",
    "decembro",
];

// Basque: its own words ("kaixo", "eta", "nola", "dezaket"), none of its neighbours'.
const EU: &[&str] = &[
    "kaixo",
    "egun",
    "arratsalde",
    "gabon",
    "eskerrik",
    "asko",
    "mesedez",
    "eta",
    "dut",
    "dugu",
    "duzu",
    "dira",
    "ez",
    "bai",
    "nola",
    "zer",
    "noiz",
    "zergatik",
    "nik",
    "zuk",
    "guk",
    "zuek",
    "hau",
    "hori",
    "bat",
    "batzuk",
    "baina",
    "edo",
    "ere",
    "oso",
    "gaur",
    "bihar",
    "atzo",
    "inprimagailua",
    "fotokopiagailua",
    "fotokopiagailuan",
    "papera",
    "faktura",
    "fakturak",
    "tonerra",
    "dezaket",
    "dezakegu",
    "daiteke",
    "behar",
    "nahi",
    "dago",
    "daude",
    "ditut",
    "egin",
    "egiten",
    "laguntza",
    // the machine and its paper: "paperra trabatu da fotokopiagailuan"
    "paperra",
    "trabatu",
    "trabatuta",
    "fotokopiagailua",
    "fotokopiagailuan",
    "inprimagailua",
    "inprimagailuan",
    "makina",
    "makinan",
];

// Dutch: its own short words ("geen", "heeft", "niet", "hoe", "ik"), none of English's.
const NL: &[&str] = &[
    "het",
    "een",
    "geen",
    "niet",
    "heeft",
    "hebben",
    "hoe",
    "ik",
    "wij",
    "onze",
    "mijn",
    "meer",
    "nieuwe",
    "bestel",
    "bestellen",
    "kunnen",
    "graag",
    "dank",
    "bedankt",
    "alstublieft",
    "goedemorgen",
    "factuur",
    "rekening",
    "papier",
    "werkt",
    "waar",
    "wanneer",
    "nog",
    "ook",
    "maar",
    "voor",
    "zijn",
];

fn markers(g: Guess) -> &'static [&'static str] {
    match g {
        Guess::En => EN,
        Guess::Es => ES,
        Guess::Pt => PT,
        Guess::Fr => FR,
        Guess::De => DE,
        Guess::It => IT,
        Guess::Ca => CA,
        Guess::Gl => GL,
        Guess::Eu => EU,
        Guess::Nl => NL,
    }
}

const ALL: [Guess; 10] = [
    Guess::En,
    Guess::Es,
    Guess::Pt,
    Guess::Fr,
    Guess::De,
    Guess::It,
    Guess::Ca,
    Guess::Gl,
    Guess::Eu,
    Guess::Nl,
];

/// Each language's evidence in a text, in [`ALL`]'s order: marker words, letters, endings.
fn scores(text: &str) -> [f32; ALL.len()] {
    let mut score = [0f32; ALL.len()];
    for c in text.chars() {
        match c {
            'ã' | 'õ' | 'ç' | 'Ã' | 'Õ' | 'Ç' => score[2] += 1.5,
            'ñ' | 'Ñ' | '¿' | '¡' => score[1] += 1.5,
            'ß' | 'ä' | 'ö' | 'ü' | 'Ä' | 'Ö' | 'Ü' => score[4] += 1.5,
            'è' | 'ò' => {
                score[5] += 0.75;
                score[6] += 0.75;
            }
            'ì' => score[5] += 0.75,
            'ê' | 'ô' => score[2] += 0.5,
            'à' | 'â' | 'î' | 'û' | 'ë' | 'ï' => score[3] += 0.5,
            // Catalan's middle dot ("col·lega", "instal·lar").
            '·' => score[6] += 1.5,
            _ => {}
        }
    }
    for w in fold_words(text) {
        for (i, g) in ALL.iter().enumerate() {
            if markers(*g).contains(&w.as_str()) {
                score[i] += 1.0;
            }
        }
        // Word endings nearly unique to one language.
        if w.len() > 4 {
            if w.ends_with("cao") || w.ends_with("coes") || w.ends_with("oes") {
                score[2] += 0.5;
            } else if w.ends_with("cion") || w.ends_with("ciones") {
                score[1] += 0.5;
            } else if w.ends_with("ing") || w.ends_with("tion") {
                score[0] += 0.5;
            } else if w.ends_with("ung") || w.ends_with("lich") {
                score[4] += 0.5;
            } else if w.ends_with("zione") || w.ends_with("zioni") {
                score[5] += 0.5;
            }
        }
    }
    score
}

/// Guesses the language of a short message from its marker words and letters. Works on
/// three-word messages, which general-purpose detectors get wrong; says `None` rather than
/// guess when nothing points anywhere.
pub fn detect(text: &str) -> Detected {
    let score = scores(text);
    let mut order: Vec<usize> = (0..ALL.len()).collect();
    order.sort_by(|a, b| score[*b].total_cmp(&score[*a]));
    let (best, second) = (score[order[0]], score[order[1]]);
    if best <= 0.0 {
        return Detected {
            guess: None,
            margin: 0.0,
        };
    }
    Detected {
        guess: Some(ALL[order[0]]),
        margin: best - second,
    }
}

/// The languages a text may be in: those whose evidence ties for the most, when there is
/// any ("q significa T-01" is Portuguese or Spanish, not English). One when the text
/// shows its language; none when nothing points anywhere.
pub fn likeliest(text: &str) -> Vec<Guess> {
    let score = scores(text);
    let best = score.iter().copied().fold(0f32, f32::max);
    if best <= 0.0 {
        return Vec::new();
    }
    ALL.iter()
        .zip(score)
        .filter(|(_, s)| *s >= best)
        .map(|(g, _)| *g)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_removes_accents_and_case() {
        assert_eq!(
            fold("Não CONSIGO pagar à fatura, señor"),
            "nao consigo pagar a fatura, senor"
        );
        assert_eq!(fold_words("pleeease helpppp!!!"), vec!["pleease", "helpp"]);
    }

    #[test]
    fn edits_count_transpositions_once() {
        assert!(within_edits("atendente", "atendende", 1));
        assert!(within_edits("human", "humna", 1));
        assert!(!within_edits("human", "woman", 1));
        assert!(within_edits("persona", "persona", 0));
        assert!(!within_edits("a", "abcd", 2));
    }

    #[test]
    fn short_messages_get_their_language() {
        let cases = [
            ("quero falar com um atendente", Guess::Pt),
            ("vc pode me ajudar pq nao chegou", Guess::Pt),
            ("hablar con una persona por favor", Guess::Es),
            ("¿dónde está mi factura?", Guess::Es),
            ("perdón, me equivoqué de número", Guess::Es),
            ("where is my card", Guess::En),
            ("agent please", Guess::En),
            ("je veux parler à quelqu'un", Guess::Fr),
            ("ich brauche Hilfe mit meiner Rechnung", Guess::De),
            ("voglio parlare con un operatore", Guess::It),
            // A paper jam in each language: the article and verb that Italian shares
            // with Spanish ("la", "un", "ha") count for both.
            ("la stampante ha un foglio bloccato, come faccio", Guess::It),
            ("la stampante si e inceppata di nuovo", Guess::It),
            ("la impresora tiene un atasco de papel", Guess::Es),
            ("deu atolamento de papel de novo", Guess::Pt),
            ("la machine fait un bourrage papier", Guess::Fr),
            ("Papierstau im Kopierer, was tun", Guess::De),
            // The chat's spellings and the regions' words.
            ("q significa T-01 wey", Guess::Es),
            ("che boludo no me anda la fotocopiadora", Guess::Es),
            ("oq significa esse codigo", Guess::Pt),
            ("printer keeps jamming", Guess::En),
            // Catalan and Galician, which share many words with Spanish and Portuguese.
            (
                "Hola, com puc demanar tòner per a la impressora de l'oficina?",
                Guess::Ca,
            ),
            (
                "La factura d'aquest mes té un error en el comptador, com ho puc reclamar?",
                Guess::Ca,
            ),
            (
                "Ens traslladem d'oficina el mes que ve, què hem de fer amb la màquina?",
                Guess::Ca,
            ),
            (
                "bon dia, la fotocopiadora no imprimeix i fa un soroll estrany",
                Guess::Ca,
            ),
            ("quan ve el tecnic? fa tres dies que esperem", Guess::Ca),
            (
                "Bon dia, la fotocopiadora s'ha encallat amb un full i no sé com treure'l",
                Guess::Ca,
            ),
            (
                "Comment télécharger toutes nos factures de l'année dernière ?",
                Guess::Fr,
            ),
            (
                "Bos días, a fotocopiadora ten un atasco de papel e non sei como quitalo",
                Guess::Gl,
            ),
            (
                "Ola, como podo pedir tóner para a impresora? Grazas",
                Guess::Gl,
            ),
            (
                "Non me chega a ligazón para entrar no portal, xa mirei no spam",
                Guess::Gl,
            ),
            ("a factura deste mes ten un erro no contador", Guess::Gl),
            (
                "cando vén o técnico? levamos tres días agardando",
                Guess::Gl,
            ),
            (
                "Kaixo, inprimagailuan papera trabatu da, nola atera dezaket?",
                Guess::Eu,
            ),
            ("egun on, faktura non dago? eskerrik asko", Guess::Eu),
            // Their look-alikes stay Spanish and Portuguese.
            (
                "con quién puedo hablar de la factura de este mes?",
                Guess::Es,
            ),
            ("no me llega el enlace para entrar al portal", Guess::Es),
            (
                "quando vem o tecnico? estamos esperando faz tres dias",
                Guess::Pt,
            ),
            (
                "nao chega o link pra entrar no portal, ja olhei no spam",
                Guess::Pt,
            ),
            ("a fatura deste mes veio com erro no contador", Guess::Pt),
        ];
        for (text, want) in cases {
            assert_eq!(detect(text).guess, Some(want), "{text}");
        }
        assert_eq!(detect("👍👍").guess, None);
    }

    #[test]
    fn a_message_shared_by_two_languages_is_in_either() {
        // "q" and "significa" are Portuguese and Spanish alike: either, not English.
        assert_eq!(likeliest("q significa T-01"), vec![Guess::Es, Guess::Pt]);
        assert_eq!(likeliest("quero pagar a fatura"), vec![Guess::Pt]);
        assert_eq!(likeliest("T-01 ??"), Vec::<Guess>::new());
    }
}
