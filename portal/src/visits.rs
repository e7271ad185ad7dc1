//! A technician's visit to a client's machine: when it may happen, the steps it goes
//! through, what the technician writes when it is done, and the status the machine is
//! left in.
//!
//! Pure: no IO, no clock (today and the time of day are passed in). The rules:
//! - A visit is booked for a window on one local day, `09:00–12:00`: it starts before it
//!   ends, lasts at most [`MAX_WINDOW_MINUTES`], and is not booked for a day past.
//!   Times are read as people type them: `9`, `9h`, `9h30`, `09:30`, `9.30`, `930`.
//! - Steps: a scheduled visit may be moved (a new window or technician), the technician
//!   arrives, then finishes it; a visit not yet finished may be cancelled. Anything else
//!   is refused with the visit's status named, so a double tap or two people at once do
//!   one thing.
//! - Finishing needs the work done in words, the name of the client's person who signs
//!   it, and the machine's status after; the parts used are optional, one a line
//!   (`2x toner preto`, `fusor`, `cilindro - 1`).
//! - The machine follows the visit: on arrival it is in maintenance; when the visit is
//!   done it is what the technician says (in service unless told otherwise); a cancelled
//!   visit leaves it as it was.
//!
//! Tests: `visits::tests` (every refusal named; times, parts and steps as written in the
//! three languages).

use serde::{Deserialize, Serialize};

use crate::locale::Lang;

/// The longest window a visit may be booked for: a working day.
pub const MAX_WINDOW_MINUTES: u16 = 12 * 60;
/// The most parts one visit lists.
pub const MAX_PARTS: usize = 50;
/// The most of one part.
pub const MAX_QUANTITY: u32 = 999;
/// The longest description of the work done.
pub const MAX_WORK_CHARS: usize = 4_000;
/// The longest name of a part or of the person who signs.
pub const MAX_NAME_CHARS: usize = 120;

/// Where a visit stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VisitStatus {
    Scheduled,
    OnSite,
    Done,
    Cancelled,
}

impl VisitStatus {
    pub const ALL: [VisitStatus; 4] = [
        VisitStatus::Scheduled,
        VisitStatus::OnSite,
        VisitStatus::Done,
        VisitStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            VisitStatus::Scheduled => "scheduled",
            VisitStatus::OnSite => "on_site",
            VisitStatus::Done => "done",
            VisitStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<VisitStatus> {
        VisitStatus::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// Still to happen or happening: what a technician's list and a ticket follow.
    pub fn is_open(self) -> bool {
        matches!(self, VisitStatus::Scheduled | VisitStatus::OnSite)
    }
}

/// What is done to a visit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A new window or technician.
    Reschedule,
    Arrive,
    Complete,
    Cancel,
}

impl Step {
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Reschedule => "reschedule",
            Step::Arrive => "arrive",
            Step::Complete => "complete",
            Step::Cancel => "cancel",
        }
    }
}

/// Why a visit, its window or its report is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VisitError {
    #[error("{0:?} is not a time of day (write it as 09:00 or 9h30)")]
    NotATime(String),
    #[error("the visit's window must end after it starts")]
    EndsBeforeStart,
    #[error("a visit's window is at most 12 hours")]
    TooLong,
    #[error("a visit cannot be booked for a day that has passed")]
    InThePast,
    #[error("a visit that is {status} cannot be {step}")]
    Step {
        status: &'static str,
        step: &'static str,
    },
    #[error("say what was done")]
    NoWork,
    #[error("the description of the work is longer than 4,000 characters")]
    WorkTooLong,
    #[error("write the name of the person who signs for the client")]
    NoSignature,
    #[error("the name of the person who signs is longer than 120 characters")]
    SignatureTooLong,
    #[error("part {line}: {why}")]
    Part { line: usize, why: &'static str },
    #[error("a visit lists at most 50 parts")]
    TooManyParts,
    #[error("unknown machine status {0:?}")]
    MachineStatus(String),
}

/// The words of visits, on pages and in the report, in the portal's three languages.
#[derive(Debug)]
pub struct VisitWords {
    pub visit: &'static str,
    pub visits: &'static str,
    pub report: &'static str,
    pub no_visits: &'static str,
    pub technician: &'static str,
    pub responsible: &'static str,
    pub nobody: &'static str,
    pub window: &'static str,
    pub date: &'static str,
    pub from: &'static str,
    pub to: &'static str,
    pub time_hint: &'static str,
    pub status: &'static str,
    pub arrived: &'static str,
    pub finished: &'static str,
    pub work_done: &'static str,
    pub parts: &'static str,
    pub parts_hint: &'static str,
    pub quantity: &'static str,
    pub part: &'static str,
    pub no_parts: &'static str,
    pub signed_by: &'static str,
    pub signed_hint: &'static str,
    pub machine_after: &'static str,
    pub machine: &'static str,
    pub client: &'static str,
    pub request: &'static str,
    pub no_request: &'static str,
    pub schedule: &'static str,
    pub schedule_lead: &'static str,
    pub book: &'static str,
    pub arrive: &'static str,
    pub complete: &'static str,
    pub complete_lead: &'static str,
    pub cancel: &'static str,
    pub move_visit: &'static str,
    pub download_report: &'static str,
    pub upcoming: &'static str,
    pub past: &'static str,
    pub mine: &'static str,
    pub all: &'static str,
    pub booked: &'static str,
    pub signature: &'static str,
    pub toner_deliveries: &'static str,
    pub documents: &'static str,
    pub no_documents: &'static str,
    pub follow_live: &'static str,
}

/// A visit's status in words.
pub fn status_word(status: &str, lang: Lang) -> &'static str {
    match (status, lang) {
        ("scheduled", Lang::En) => "Scheduled",
        ("scheduled", Lang::Es) => "Programada",
        ("scheduled", Lang::PtBr) => "Agendada",
        ("on_site", Lang::En) => "Technician on site",
        ("on_site", Lang::Es) => "Técnico en el lugar",
        ("on_site", Lang::PtBr) => "Técnico no local",
        ("done", Lang::En) => "Done",
        ("done", _) => "Realizada",
        (_, Lang::En) => "Cancelled",
        (_, _) => "Cancelada",
    }
}

pub fn visit_words(lang: Lang) -> &'static VisitWords {
    match lang {
        Lang::En => &VisitWords {
            visit: "Visit",
            visits: "Visits",
            report: "Visit report",
            no_visits: "No visits yet.",
            technician: "Technician",
            responsible: "Responsible technician",
            nobody: "Nobody",
            window: "When",
            date: "Date",
            from: "From",
            to: "To",
            time_hint: "As 09:00 or 9h30.",
            status: "Status",
            arrived: "Arrived",
            finished: "Finished",
            work_done: "Work done",
            parts: "Parts used",
            parts_hint: "One a line, with the quantity first if more than one: 2x toner black.",
            quantity: "Qty",
            part: "Part",
            no_parts: "No parts.",
            signed_by: "Signed for the client by",
            signed_hint: "The name of the person at the client who checked the work.",
            machine_after: "Machine after the visit",
            machine: "Machine",
            client: "Client",
            request: "Request",
            no_request: "Not for a request",
            schedule: "Schedule a visit",
            schedule_lead: "The client follows the visit on their request.",
            book: "Schedule",
            arrive: "Arrived on site",
            complete: "Finish the visit",
            complete_lead: "The client receives the report.",
            cancel: "Cancel the visit",
            move_visit: "Move",
            download_report: "Visit report (PDF)",
            upcoming: "Upcoming visits",
            past: "Past visits",
            mine: "My visits",
            all: "All visits",
            booked: "Visit scheduled.",
            signature: "Signature",
            toner_deliveries: "Toner",
            documents: "Documents",
            no_documents: "No documents yet.",
            follow_live: "This page follows the visit live.",
        },
        Lang::Es => &VisitWords {
            visit: "Visita",
            visits: "Visitas",
            report: "Informe de visita",
            no_visits: "Aún no hay visitas.",
            technician: "Técnico",
            responsible: "Técnico responsable",
            nobody: "Nadie",
            window: "Cuándo",
            date: "Fecha",
            from: "Desde",
            to: "Hasta",
            time_hint: "Como 09:00 o 9h30.",
            status: "Estado",
            arrived: "Llegada",
            finished: "Terminada",
            work_done: "Trabajo realizado",
            parts: "Piezas usadas",
            parts_hint: "Una por línea, con la cantidad delante si es más de una: 2x tóner negro.",
            quantity: "Cant.",
            part: "Pieza",
            no_parts: "Sin piezas.",
            signed_by: "Firmado por el cliente",
            signed_hint: "El nombre de la persona del cliente que revisó el trabajo.",
            machine_after: "Máquina tras la visita",
            machine: "Máquina",
            client: "Cliente",
            request: "Solicitud",
            no_request: "Sin solicitud",
            schedule: "Programar una visita",
            schedule_lead: "El cliente sigue la visita en su solicitud.",
            book: "Programar",
            arrive: "Llegué al lugar",
            complete: "Terminar la visita",
            complete_lead: "El cliente recibe el informe.",
            cancel: "Cancelar la visita",
            move_visit: "Cambiar",
            download_report: "Informe de visita (PDF)",
            upcoming: "Próximas visitas",
            past: "Visitas anteriores",
            mine: "Mis visitas",
            all: "Todas las visitas",
            booked: "Visita programada.",
            signature: "Firma",
            toner_deliveries: "Tóner",
            documents: "Documentos",
            no_documents: "Aún no hay documentos.",
            follow_live: "Esta página sigue la visita en vivo.",
        },
        Lang::PtBr => &VisitWords {
            visit: "Visita",
            visits: "Visitas",
            report: "Relatório de visita",
            no_visits: "Ainda não há visitas.",
            technician: "Técnico",
            responsible: "Técnico responsável",
            nobody: "Ninguém",
            window: "Quando",
            date: "Data",
            from: "Das",
            to: "Às",
            time_hint: "Como 09:00 ou 9h30.",
            status: "Situação",
            arrived: "Chegada",
            finished: "Concluída",
            work_done: "Serviço realizado",
            parts: "Peças usadas",
            parts_hint: "Uma por linha, com a quantidade antes se for mais de uma: 2x toner preto.",
            quantity: "Qtd.",
            part: "Peça",
            no_parts: "Nenhuma peça.",
            signed_by: "Assinado pelo cliente",
            signed_hint: "O nome da pessoa do cliente que conferiu o serviço.",
            machine_after: "Máquina após a visita",
            machine: "Máquina",
            client: "Cliente",
            request: "Solicitação",
            no_request: "Sem solicitação",
            schedule: "Agendar uma visita",
            schedule_lead: "O cliente acompanha a visita na solicitação.",
            book: "Agendar",
            arrive: "Cheguei ao local",
            complete: "Concluir a visita",
            complete_lead: "O cliente recebe o relatório.",
            cancel: "Cancelar a visita",
            move_visit: "Alterar",
            download_report: "Relatório de visita (PDF)",
            upcoming: "Próximas visitas",
            past: "Visitas anteriores",
            mine: "Minhas visitas",
            all: "Todas as visitas",
            booked: "Visita agendada.",
            signature: "Assinatura",
            toner_deliveries: "Toner",
            documents: "Documentos",
            no_documents: "Ainda não há documentos.",
            follow_live: "Esta página acompanha a visita ao vivo.",
        },
    }
}

/// Why a visit, its window or its report is refused, in the person's language.
pub fn visit_error(e: &VisitError, lang: Lang) -> String {
    use VisitError as E;
    let status = |s: &str| status_word(s, lang).to_lowercase();
    match (e, lang) {
        (E::NotATime(t), Lang::En) => {
            format!("{t:?} is not a time of day (write it as 09:00 or 9h30)")
        }
        (E::NotATime(t), Lang::Es) => format!("«{t}» no es una hora (escríbala como 09:00 o 9h30)"),
        (E::NotATime(t), Lang::PtBr) => {
            format!("“{t}” não é um horário (escreva como 09:00 ou 9h30)")
        }
        (E::EndsBeforeStart, Lang::En) => "the visit's window must end after it starts".into(),
        (E::EndsBeforeStart, Lang::Es) => {
            "la franja de la visita debe terminar después de empezar".into()
        }
        (E::EndsBeforeStart, Lang::PtBr) => {
            "o horário da visita deve terminar depois de começar".into()
        }
        (E::TooLong, Lang::En) => "a visit's window is at most 12 hours".into(),
        (E::TooLong, Lang::Es) => "la franja de una visita es de 12 horas como máximo".into(),
        (E::TooLong, Lang::PtBr) => "o horário de uma visita tem no máximo 12 horas".into(),
        (E::InThePast, Lang::En) => "a visit cannot be booked for a day that has passed".into(),
        (E::InThePast, Lang::Es) => "no se puede programar una visita para un día pasado".into(),
        (E::InThePast, Lang::PtBr) => {
            "não é possível agendar uma visita para um dia que já passou".into()
        }
        (E::Step { status: s, .. }, Lang::En) => {
            format!("this visit is {} now: nothing was changed", status(s))
        }
        (E::Step { status: s, .. }, Lang::Es) => {
            format!("esta visita ya está {}: no se cambió nada", status(s))
        }
        (E::Step { status: s, .. }, Lang::PtBr) => {
            format!("esta visita já está {}: nada foi alterado", status(s))
        }
        (E::NoWork, Lang::En) => "say what was done".into(),
        (E::NoWork, Lang::Es) => "describa el trabajo realizado".into(),
        (E::NoWork, Lang::PtBr) => "descreva o serviço realizado".into(),
        (E::WorkTooLong, Lang::En) => {
            "the description of the work is longer than 4,000 characters".into()
        }
        (E::WorkTooLong, Lang::Es) => {
            "la descripción del trabajo supera los 4.000 caracteres".into()
        }
        (E::WorkTooLong, Lang::PtBr) => "a descrição do serviço passa de 4.000 caracteres".into(),
        (E::NoSignature, Lang::En) => {
            "write the name of the person who signs for the client".into()
        }
        (E::NoSignature, Lang::Es) => {
            "escriba el nombre de la persona que firma por el cliente".into()
        }
        (E::NoSignature, Lang::PtBr) => "escreva o nome de quem assina pelo cliente".into(),
        (E::SignatureTooLong, Lang::En) => {
            "the name of the person who signs is longer than 120 characters".into()
        }
        (E::SignatureTooLong, Lang::Es) => {
            "el nombre de quien firma supera los 120 caracteres".into()
        }
        (E::SignatureTooLong, Lang::PtBr) => "o nome de quem assina passa de 120 caracteres".into(),
        (E::Part { line, why }, Lang::En) => format!("part {line}: {why}"),
        (E::Part { line, why }, Lang::Es) => format!(
            "pieza {line}: {}",
            match *why {
                "name the part" => "escriba el nombre de la pieza",
                "the quantity is 1 to 999" => "la cantidad es de 1 a 999",
                _ => "el nombre supera los 120 caracteres",
            }
        ),
        (E::Part { line, why }, Lang::PtBr) => format!(
            "peça {line}: {}",
            match *why {
                "name the part" => "escreva o nome da peça",
                "the quantity is 1 to 999" => "a quantidade é de 1 a 999",
                _ => "o nome passa de 120 caracteres",
            }
        ),
        (E::TooManyParts, Lang::En) => "a visit lists at most 50 parts".into(),
        (E::TooManyParts, Lang::Es) => "una visita lista 50 piezas como máximo".into(),
        (E::TooManyParts, Lang::PtBr) => "uma visita lista no máximo 50 peças".into(),
        (E::MachineStatus(s), _) => format!("{s:?}?"),
    }
}

/// Minutes after local midnight of a time typed as people type it: `9`, `09`, `9h`,
/// `9h30`, `09:30`, `9.30`, `930`, `0930`, `24:00` (the end of the day).
pub fn parse_time(text: &str) -> Result<u16, VisitError> {
    let bad = || VisitError::NotATime(text.trim().to_owned());
    let t = text.trim().to_ascii_lowercase();
    let t = t.trim_end_matches("hs").trim_end_matches("hrs").trim();
    if t.is_empty() || t.len() > 5 {
        return Err(bad());
    }
    let (h, m) = match t.find([':', 'h', '.']) {
        Some(i) => {
            let (h, rest) = (&t[..i], &t[i + 1..]);
            let m = if rest.is_empty() { "0" } else { rest };
            if rest.len() == 1 {
                return Err(bad());
            }
            (h, m)
        }
        None if t.len() <= 2 => (t, "0"),
        None if t.len() <= 4 => t.split_at(t.len() - 2),
        None => return Err(bad()),
    };
    let digits = |s: &str| !s.is_empty() && s.len() <= 2 && s.chars().all(|c| c.is_ascii_digit());
    if !digits(h) || !digits(m) {
        return Err(bad());
    }
    let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if m >= 60 || h > 24 || (h == 24 && m > 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

/// `09:30` from minutes after midnight.
pub fn hhmm(minute: u16) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

/// A visit's window: a local day (days since 1970-01-01) and the minutes after its
/// midnight it starts and ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub day: i64,
    pub from: u16,
    pub to: u16,
}

/// A window as typed (`from` and `to` as [`parse_time`] reads them), checked against
/// `today` (local): not a day past; today's may start earlier today (booked after a call).
pub fn window(day: i64, from: &str, to: &str, today: i64) -> Result<Window, VisitError> {
    let (from, to) = (parse_time(from)?, parse_time(to)?);
    if to <= from {
        return Err(VisitError::EndsBeforeStart);
    }
    if to - from > MAX_WINDOW_MINUTES {
        return Err(VisitError::TooLong);
    }
    if day < today {
        return Err(VisitError::InThePast);
    }
    Ok(Window { day, from, to })
}

/// The status a visit moves to, or why it cannot.
pub fn next(status: VisitStatus, step: Step) -> Result<VisitStatus, VisitError> {
    use VisitStatus as S;
    match (status, step) {
        (S::Scheduled, Step::Reschedule) => Ok(S::Scheduled),
        (S::Scheduled, Step::Arrive) => Ok(S::OnSite),
        // A visit written up afterwards (no signal on site) arrives and finishes at once.
        (S::Scheduled | S::OnSite, Step::Complete) => Ok(S::Done),
        (S::Scheduled | S::OnSite, Step::Cancel) => Ok(S::Cancelled),
        (status, step) => Err(VisitError::Step {
            status: status.as_str(),
            step: match step {
                Step::Reschedule => "moved",
                Step::Arrive => "started",
                Step::Complete => "finished",
                Step::Cancel => "cancelled",
            },
        }),
    }
}

/// The machine's status after a step: in maintenance while the technician is there;
/// when done, `after` (what the technician chose). `None`: unchanged.
pub fn machine_status(step: Step, after: Option<&str>) -> Option<String> {
    match step {
        Step::Arrive => Some("maintenance".to_owned()),
        Step::Complete => Some(after.unwrap_or("in_service").to_owned()),
        Step::Reschedule | Step::Cancel => None,
    }
}

/// A part used on a visit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    pub name: String,
    pub quantity: u32,
}

fn quantity(s: &str) -> Option<u32> {
    let s = s.trim();
    let s = s
        .strip_suffix(['x', '×'])
        .or_else(|| s.strip_prefix(['x', '×']))
        .unwrap_or(s)
        .trim();
    if s.is_empty() || s.len() > 4 || !s.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

const UNITS: &[&str] = &[
    "un", "un.", "und", "und.", "unid", "unid.", "unidad", "unidades", "unidade", "pc", "pcs",
    "pç", "pç.", "pcs.", "pz", "pz.", "pza", "pzas", "pieza", "piezas", "peça", "peças", "units",
    "unit", "x",
];

/// The parts of a visit, one a line (or separated by `;`): a name with an optional
/// quantity before or after it (`2x toner preto`, `2 un. rolo`, `fusor x1`, `cilindro - 1`,
/// `Toner K (1)`). Blank lines are skipped; a line with only a number is refused.
pub fn parse_parts(text: &str) -> Result<Vec<Part>, VisitError> {
    let mut parts: Vec<Part> = Vec::new();
    let lines: Vec<&str> = text
        .split(['\n', ';'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if lines.len() > MAX_PARTS {
        return Err(VisitError::TooManyParts);
    }
    for (i, line) in lines.iter().enumerate() {
        let n = i + 1;
        let line = line.trim_start_matches(['-', '*', '•']).trim();
        let words: Vec<&str> = line.split_whitespace().collect();
        let mut q: Option<u32> = None;
        let mut name_words: &[&str] = &words;
        // A quantity first: "2", "2x", "x2", then an optional unit.
        if let Some(first) = words.first().and_then(|w| quantity(w)) {
            q = Some(first);
            name_words = &words[1..];
            if let Some(u) = name_words.first()
                && UNITS.contains(&u.to_lowercase().as_str())
            {
                name_words = &name_words[1..];
            }
        } else if let Some(last) = words.last() {
            // A quantity last: "x1", "1", "(1)", "- 1", ": 1".
            let bare = last.trim_matches(['(', ')']);
            if let Some(v) = quantity(bare) {
                q = Some(v);
                name_words = &words[..words.len() - 1];
                if let Some(u) = name_words.last()
                    && UNITS.contains(&u.to_lowercase().as_str())
                {
                    name_words = &name_words[..name_words.len() - 1];
                }
            }
        }
        let name = name_words
            .join(" ")
            .trim_end_matches(['-', ':', ','])
            .trim()
            .to_owned();
        if name.is_empty() {
            return Err(VisitError::Part {
                line: n,
                why: "name the part",
            });
        }
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(VisitError::Part {
                line: n,
                why: "the name is longer than 120 characters",
            });
        }
        let quantity = q.unwrap_or(1);
        if quantity == 0 || quantity > MAX_QUANTITY {
            return Err(VisitError::Part {
                line: n,
                why: "the quantity is 1 to 999",
            });
        }
        // The same part twice is one line with both quantities.
        match parts
            .iter_mut()
            .find(|p| p.name.to_lowercase() == name.to_lowercase())
        {
            Some(p) => p.quantity = (p.quantity + quantity).min(MAX_QUANTITY),
            None => parts.push(Part { name, quantity }),
        }
    }
    Ok(parts)
}

/// What the technician writes when the visit is done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub work_done: String,
    pub parts: Vec<Part>,
    pub signed_by: String,
    /// The machine's status after the visit.
    pub machine_status: String,
}

/// The machine statuses a visit may leave a machine in.
pub const AFTER_STATUSES: [&str; 3] = ["in_service", "down", "maintenance"];

/// A finished visit's report as typed, checked.
pub fn report(
    work_done: &str,
    parts: &str,
    signed_by: &str,
    machine_status: &str,
) -> Result<Report, VisitError> {
    let work_done = work_done.trim();
    if work_done.is_empty() {
        return Err(VisitError::NoWork);
    }
    if work_done.chars().count() > MAX_WORK_CHARS {
        return Err(VisitError::WorkTooLong);
    }
    let signed_by = signed_by.split_whitespace().collect::<Vec<_>>().join(" ");
    if signed_by.chars().count() < 2 {
        return Err(VisitError::NoSignature);
    }
    if signed_by.chars().count() > MAX_NAME_CHARS {
        return Err(VisitError::SignatureTooLong);
    }
    let status = match machine_status.trim() {
        "" => "in_service",
        s => s,
    };
    if !AFTER_STATUSES.contains(&status) {
        return Err(VisitError::MachineStatus(status.to_owned()));
    }
    Ok(Report {
        work_done: work_done.to_owned(),
        parts: parse_parts(parts)?,
        signed_by,
        machine_status: status.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_read_as_people_type_them() {
        for (typed, minute) in [
            ("9", 540),
            ("09", 540),
            ("9h", 540),
            ("9H30", 570),
            ("09:30", 570),
            ("9.30", 570),
            ("930", 570),
            ("0930", 570),
            ("14:05", 845),
            ("24:00", 1440),
            ("0", 0),
            (" 18h ", 1080),
            ("18hs", 1080),
        ] {
            assert_eq!(parse_time(typed), Ok(minute), "{typed}");
        }
        for bad in [
            "", "25", "9:3", "9:60", "nine", "9am", "24:30", "12345", "-9", "9:30:00",
        ] {
            assert!(
                matches!(parse_time(bad), Err(VisitError::NotATime(_))),
                "{bad}"
            );
        }
        assert_eq!(hhmm(570), "09:30");
    }

    #[test]
    fn windows_end_after_they_start_within_a_day_not_in_the_past() {
        let today = 20_000;
        assert_eq!(
            window(today, "9h", "12h", today),
            Ok(Window {
                day: today,
                from: 540,
                to: 720
            })
        );
        assert_eq!(
            window(today, "12:00", "9:00", today),
            Err(VisitError::EndsBeforeStart)
        );
        assert_eq!(
            window(today, "10", "10", today),
            Err(VisitError::EndsBeforeStart)
        );
        assert_eq!(window(today, "6", "19", today), Err(VisitError::TooLong));
        assert_eq!(
            window(today - 1, "9", "12", today),
            Err(VisitError::InThePast)
        );
        assert!(window(today + 30, "8", "20", today).is_ok());
    }

    #[test]
    fn steps_follow_the_visit_and_refuse_the_rest() {
        use Step::*;
        use VisitStatus::*;
        assert_eq!(next(Scheduled, Arrive), Ok(OnSite));
        assert_eq!(next(OnSite, Complete), Ok(Done));
        assert_eq!(next(Scheduled, Complete), Ok(Done));
        assert_eq!(next(Scheduled, Reschedule), Ok(Scheduled));
        assert_eq!(next(OnSite, Cancel), Ok(Cancelled));
        for (status, step) in [
            (OnSite, Arrive),
            (OnSite, Reschedule),
            (Done, Arrive),
            (Done, Complete),
            (Done, Cancel),
            (Done, Reschedule),
            (Cancelled, Arrive),
            (Cancelled, Complete),
            (Cancelled, Cancel),
        ] {
            let e = next(status, step).unwrap_err();
            assert!(
                e.to_string().contains(status.as_str()),
                "{status:?} {step:?}: {e}"
            );
        }
        assert_eq!(machine_status(Arrive, None).as_deref(), Some("maintenance"));
        assert_eq!(
            machine_status(Complete, None).as_deref(),
            Some("in_service")
        );
        assert_eq!(
            machine_status(Complete, Some("down")).as_deref(),
            Some("down")
        );
        assert_eq!(machine_status(Cancel, None), None);
        for s in VisitStatus::ALL {
            assert_eq!(VisitStatus::parse(s.as_str()), Some(s));
        }
    }

    #[test]
    fn parts_are_read_one_a_line_with_their_quantities() {
        let parts = parse_parts(
            "2x toner preto\n- Fusor\ncilindro - 1\n3 un. rolo de alimentação; Toner K (1)\n\n  x2 Correia\nPieza de repuesto x3\n1 kit de mantenimiento\nFusor",
        )
        .unwrap();
        let got: Vec<(&str, u32)> = parts
            .iter()
            .map(|p| (p.name.as_str(), p.quantity))
            .collect();
        assert_eq!(
            got,
            [
                ("toner preto", 2),
                ("Fusor", 2),
                ("cilindro", 1),
                ("rolo de alimentação", 3),
                ("Toner K", 1),
                ("Correia", 2),
                ("Pieza de repuesto", 3),
                ("kit de mantenimiento", 1),
            ]
        );
        assert_eq!(parse_parts("  \n \n"), Ok(vec![]));
        assert_eq!(
            parse_parts("toner\n12"),
            Err(VisitError::Part {
                line: 2,
                why: "name the part"
            })
        );
        assert_eq!(
            parse_parts("toner\n0 fusor"),
            Err(VisitError::Part {
                line: 2,
                why: "the quantity is 1 to 999"
            })
        );
        assert!(matches!(
            parse_parts(&"a".repeat(121)),
            Err(VisitError::Part { line: 1, .. })
        ));
        assert_eq!(
            parse_parts(&"toner\n".repeat(51)),
            Err(VisitError::TooManyParts)
        );
    }

    #[test]
    fn every_refusal_has_its_words_in_each_language() {
        let all = [
            VisitError::NotATime("9am".into()),
            VisitError::EndsBeforeStart,
            VisitError::TooLong,
            VisitError::InThePast,
            VisitError::Step {
                status: "done",
                step: "started",
            },
            VisitError::NoWork,
            VisitError::WorkTooLong,
            VisitError::NoSignature,
            VisitError::SignatureTooLong,
            VisitError::Part {
                line: 2,
                why: "name the part",
            },
            VisitError::TooManyParts,
        ];
        for lang in [Lang::En, Lang::Es, Lang::PtBr] {
            for e in &all {
                assert!(!visit_error(e, lang).is_empty());
            }
        }
        assert_eq!(
            visit_error(&all[4], Lang::PtBr),
            "esta visita já está realizada: nada foi alterado"
        );
        assert_eq!(
            visit_error(&all[9], Lang::Es),
            "pieza 2: escriba el nombre de la pieza"
        );
    }

    #[test]
    fn a_report_needs_the_work_the_signature_and_a_status() {
        let r = report("Troca do fusor e limpeza.", "1 fusor", "  Ana   Souza ", "").unwrap();
        assert_eq!(r.signed_by, "Ana Souza");
        assert_eq!(r.machine_status, "in_service");
        assert_eq!(r.parts.len(), 1);
        assert_eq!(report(" ", "", "Ana", ""), Err(VisitError::NoWork));
        assert_eq!(
            report(&"x".repeat(4_001), "", "Ana", ""),
            Err(VisitError::WorkTooLong)
        );
        assert_eq!(report("ok", "", " a ", ""), Err(VisitError::NoSignature));
        assert_eq!(
            report("ok", "", &"a".repeat(121), ""),
            Err(VisitError::SignatureTooLong)
        );
        assert_eq!(
            report("ok", "", "Ana", "removed"),
            Err(VisitError::MachineStatus("removed".into()))
        );
        assert_eq!(
            report("Esperando pieza", "", "Luis", "down")
                .unwrap()
                .machine_status,
            "down"
        );
    }
}
