//! What the machine and contract pages show, for clients and agents alike: the words in
//! three languages, a machine's readings as a history and a consumption chart, a
//! reading typed in a form, and a contract's terms and closed periods line by line.

use switchboard_core::store::{ClosedPeriod, Contract, Machine, MeterReading};
use switchboard_portal::contracts::Calculation;
use switchboard_portal::locale::{Lang, count, date, iso_date, money};
use switchboard_portal::overage::{Pooling, Terms};
use switchboard_portal::readings::{Counter, Counts, Jump, MAX_COUNT, ReadingError, parse_count};

/// The pages' words.
#[derive(Debug)]
pub struct EqWords {
    pub equipment: &'static str,
    pub lead: &'static str,
    pub machines: &'static str,
    pub none: &'static str,
    pub model: &'static str,
    pub serial: &'static str,
    pub asset_tag: &'static str,
    pub location: &'static str,
    pub status: &'static str,
    pub site: &'static str,
    pub no_site: &'static str,
    pub installed: &'static str,
    pub last_reading: &'static str,
    pub never_read: &'static str,
    pub contract: &'static str,
    pub contracts: &'static str,
    pub readings: &'static str,
    pub enter_reading: &'static str,
    pub reading_lead: &'static str,
    pub mono: &'static str,
    pub colour: &'static str,
    pub scans: &'static str,
    pub photo: &'static str,
    pub photo_hint: &'static str,
    pub save_reading: &'static str,
    pub save: &'static str,
    pub stored: &'static str,
    pub duplicate: &'static str,
    pub confirm_heading: &'static str,
    pub confirm_lead: &'static str,
    pub confirm: &'static str,
    pub consumption: &'static str,
    pub per_month: &'static str,
    pub day: &'static str,
    pub source: &'static str,
    pub no_readings: &'static str,
    pub view_photo: &'static str,
    pub fee: &'static str,
    pub monthly: &'static str,
    pub quarterly: &'static str,
    pub included: &'static str,
    pub extra_price: &'static str,
    pub pooled: &'static str,
    pub per_machine: &'static str,
    pub from: &'static str,
    pub renews: &'static str,
    pub ends: &'static str,
    pub read_by: &'static str,
    pub periods: &'static str,
    pub no_periods: &'static str,
    pub used: &'static str,
    pub extra: &'static str,
    pub amount: &'static str,
    pub estimated: &'static str,
    pub estimated_note: &'static str,
    pub download: &'static str,
    pub invoice: &'static str,
    pub all_machines: &'static str,
    pub counter_empty: &'static str,
    pub check_rows: &'static str,
    pub request: &'static str,
    pub toner: &'static str,
    pub open_requests: &'static str,
    pub requests: &'static str,
    pub which_machine: &'static str,
    pub no_machine: &'static str,
    pub toner_colours: &'static str,
    pub request_service: &'static str,
    pub all_readings: &'static str,
    pub last_visit: &'static str,
}

pub fn eq_words(lang: Lang) -> &'static EqWords {
    match lang {
        Lang::En => &EqWords {
            equipment: "Equipment",
            lead: "Your machines, their counters and your contracts.",
            machines: "Machines",
            none: "No machines yet.",
            model: "Model",
            serial: "Serial",
            asset_tag: "Asset tag",
            location: "Location",
            status: "Status",
            site: "Site",
            no_site: "No site",
            installed: "Installed",
            last_reading: "Last reading",
            never_read: "Not read yet",
            contract: "Contract",
            contracts: "Contracts",
            readings: "Readings",
            enter_reading: "Enter a reading",
            reading_lead: "Type the counters as the machine shows them. A photo of the counter helps us check.",
            mono: "Black & white",
            colour: "Colour",
            scans: "Scans",
            photo: "Photo of the counter",
            photo_hint: "Optional: an image (PNG, JPEG, WebP).",
            save_reading: "Save reading",
            save: "Save",
            stored: "Reading saved. Thank you!",
            duplicate: "This reading was already saved.",
            confirm_heading: "Please check this reading",
            confirm_lead: "It is much more than this machine usually prints. If the numbers are right, confirm them.",
            confirm: "The numbers are right: save",
            consumption: "Consumption",
            per_month: "pages a month",
            day: "Date",
            source: "By",
            no_readings: "No readings yet.",
            view_photo: "Photo",
            fee: "Fixed fee",
            monthly: "monthly",
            quarterly: "quarterly",
            included: "Included",
            extra_price: "Extra copies",
            pooled: "Shared by all the contract's machines",
            per_machine: "For each machine",
            from: "Since",
            renews: "Renews",
            ends: "Ends",
            read_by: "Readings due",
            periods: "Billing periods",
            no_periods: "No period has closed yet.",
            used: "Used",
            extra: "Extra",
            amount: "Amount",
            estimated: "estimated",
            estimated_note: "Estimated from the machine's average: the next reading corrects it.",
            download: "Download the contract (PDF)",
            invoice: "Invoice",
            all_machines: "All machines",
            counter_empty: "Type at least one counter.",
            check_rows: "Some machines need a look: the rest are saved.",
            request: "Request",
            toner: "Toner",
            open_requests: "Open requests",
            requests: "Requests",
            which_machine: "Which machine?",
            no_machine: "Not about a machine",
            toner_colours: "Toner colours",
            request_service: "Request service or toner",
            all_readings: "Enter all readings",
            last_visit: "Last visit",
        },
        Lang::Es => &EqWords {
            equipment: "Equipos",
            lead: "Sus máquinas, sus contadores y sus contratos.",
            machines: "Máquinas",
            none: "Aún no hay máquinas.",
            model: "Modelo",
            serial: "N.º de serie",
            asset_tag: "Etiqueta",
            location: "Ubicación",
            status: "Estado",
            site: "Sede",
            no_site: "Sin sede",
            installed: "Instalada",
            last_reading: "Última lectura",
            never_read: "Sin lecturas",
            contract: "Contrato",
            contracts: "Contratos",
            readings: "Lecturas",
            enter_reading: "Registrar una lectura",
            reading_lead: "Escriba los contadores tal como los muestra la máquina. Una foto del contador nos ayuda a verificar.",
            mono: "Blanco y negro",
            colour: "Color",
            scans: "Escaneos",
            photo: "Foto del contador",
            photo_hint: "Opcional: una imagen (PNG, JPEG, WebP).",
            save_reading: "Guardar lectura",
            save: "Guardar",
            stored: "Lectura guardada. ¡Gracias!",
            duplicate: "Esta lectura ya estaba guardada.",
            confirm_heading: "Revise esta lectura",
            confirm_lead: "Es mucho más de lo que esta máquina suele imprimir. Si los números son correctos, confírmelos.",
            confirm: "Los números son correctos: guardar",
            consumption: "Consumo",
            per_month: "páginas al mes",
            day: "Fecha",
            source: "Por",
            no_readings: "Aún no hay lecturas.",
            view_photo: "Foto",
            fee: "Cuota fija",
            monthly: "mensual",
            quarterly: "trimestral",
            included: "Incluidas",
            extra_price: "Copias excedentes",
            pooled: "Compartidas por todas las máquinas del contrato",
            per_machine: "Por máquina",
            from: "Desde",
            renews: "Se renueva",
            ends: "Termina",
            read_by: "Lecturas",
            periods: "Periodos facturados",
            no_periods: "Aún no se cerró ningún periodo.",
            used: "Usadas",
            extra: "Excedente",
            amount: "Importe",
            estimated: "estimado",
            estimated_note: "Estimado con el promedio de la máquina: la próxima lectura lo corrige.",
            download: "Descargar el contrato (PDF)",
            invoice: "Factura",
            all_machines: "Todas las máquinas",
            counter_empty: "Escriba al menos un contador.",
            check_rows: "Algunas máquinas necesitan revisión: las demás se guardaron.",
            request: "Solicitud",
            toner: "Tóner",
            open_requests: "Solicitudes abiertas",
            requests: "Solicitudes",
            which_machine: "¿Qué máquina?",
            no_machine: "No es sobre una máquina",
            toner_colours: "Colores de tóner",
            request_service: "Pedir servicio o tóner",
            all_readings: "Registrar todas las lecturas",
            last_visit: "Última visita",
        },
        Lang::PtBr => &EqWords {
            equipment: "Equipamentos",
            lead: "Suas máquinas, seus contadores e seus contratos.",
            machines: "Máquinas",
            none: "Ainda não há máquinas.",
            model: "Modelo",
            serial: "Nº de série",
            asset_tag: "Patrimônio",
            location: "Local",
            status: "Situação",
            site: "Unidade",
            no_site: "Sem unidade",
            installed: "Instalada",
            last_reading: "Última leitura",
            never_read: "Sem leituras",
            contract: "Contrato",
            contracts: "Contratos",
            readings: "Leituras",
            enter_reading: "Informar leitura",
            reading_lead: "Digite os contadores como a máquina mostra. Uma foto do contador ajuda na conferência.",
            mono: "Preto e branco",
            colour: "Colorido",
            scans: "Digitalizações",
            photo: "Foto do contador",
            photo_hint: "Opcional: uma imagem (PNG, JPEG, WebP).",
            save_reading: "Salvar leitura",
            save: "Salvar",
            stored: "Leitura salva. Obrigado!",
            duplicate: "Esta leitura já estava salva.",
            confirm_heading: "Confira esta leitura",
            confirm_lead: "É bem mais do que esta máquina costuma imprimir. Se os números estão certos, confirme.",
            confirm: "Os números estão certos: salvar",
            consumption: "Consumo",
            per_month: "páginas por mês",
            day: "Data",
            source: "Por",
            no_readings: "Ainda não há leituras.",
            view_photo: "Foto",
            fee: "Mensalidade fixa",
            monthly: "mensal",
            quarterly: "trimestral",
            included: "Franquia",
            extra_price: "Cópias excedentes",
            pooled: "Compartilhada por todas as máquinas do contrato",
            per_machine: "Por máquina",
            from: "Desde",
            renews: "Renova em",
            ends: "Termina em",
            read_by: "Leituras",
            periods: "Períodos faturados",
            no_periods: "Nenhum período foi fechado ainda.",
            used: "Usadas",
            extra: "Excedente",
            amount: "Valor",
            estimated: "estimado",
            estimated_note: "Estimado pela média da máquina: a próxima leitura corrige.",
            download: "Baixar o contrato (PDF)",
            invoice: "Fatura",
            all_machines: "Todas as máquinas",
            counter_empty: "Digite pelo menos um contador.",
            check_rows: "Algumas máquinas precisam de atenção: as demais foram salvas.",
            request: "Solicitação",
            toner: "Toner",
            open_requests: "Solicitações abertas",
            requests: "Solicitações",
            which_machine: "Qual máquina?",
            no_machine: "Não é sobre uma máquina",
            toner_colours: "Cores de toner",
            request_service: "Pedir assistência ou toner",
            all_readings: "Informar todas as leituras",
            last_visit: "Última visita",
        },
    }
}

/// The kinds of request about a machine, in the order the form offers them.
pub const REQUESTS: [&str; 4] = ["failure", "toner", "support", "reading"];
/// The toner colours a request may name.
pub const TONERS: [&str; 4] = ["black", "cyan", "magenta", "yellow"];

/// A kind of request in words.
pub fn request_word(kind: &str, lang: Lang) -> &'static str {
    match (kind, lang) {
        ("failure", Lang::En) => "Failure",
        ("failure", Lang::Es) => "Falla",
        ("failure", Lang::PtBr) => "Defeito",
        ("toner", Lang::Es) => "Tóner",
        ("toner", _) => "Toner",
        ("reading", Lang::En) => "Meter reading",
        ("reading", Lang::Es) => "Lectura de contador",
        ("reading", Lang::PtBr) => "Leitura de contador",
        (_, Lang::En) => "Support",
        (_, Lang::Es) => "Soporte",
        (_, Lang::PtBr) => "Suporte",
    }
}

/// A toner colour in words.
pub fn toner_word(colour: &str, lang: Lang) -> &'static str {
    match (colour, lang) {
        ("cyan", Lang::PtBr) => "Ciano",
        ("cyan", Lang::En) => "Cyan",
        ("cyan", _) => "Cian",
        ("magenta", _) => "Magenta",
        ("yellow", Lang::En) => "Yellow",
        ("yellow", Lang::Es) => "Amarillo",
        ("yellow", Lang::PtBr) => "Amarelo",
        (_, Lang::En) => "Black",
        (_, Lang::Es) => "Negro",
        (_, Lang::PtBr) => "Preto",
    }
}

/// A machine status in words.
pub fn status_word(status: &str, lang: Lang) -> &'static str {
    match (status, lang) {
        ("in_service", Lang::En) => "In service",
        ("in_service", Lang::Es) => "En servicio",
        ("in_service", Lang::PtBr) => "Em operação",
        ("down", Lang::En) => "Down",
        ("down", Lang::Es) => "Detenida",
        ("down", Lang::PtBr) => "Parada",
        ("maintenance", Lang::En) => "In maintenance",
        ("maintenance", Lang::Es) => "En mantenimiento",
        ("maintenance", Lang::PtBr) => "Em manutenção",
        (_, Lang::En) => "Removed",
        (_, Lang::Es) => "Retirada",
        (_, Lang::PtBr) => "Retirada",
    }
}

fn source_word(source: &str, lang: Lang) -> &'static str {
    match (source, lang) {
        ("whatsapp", _) => "WhatsApp",
        ("email", Lang::En) => "Email",
        ("email", _) => "E-mail",
        ("agent", Lang::En) => "Our team",
        ("agent", Lang::Es) => "Nuestro equipo",
        ("agent", Lang::PtBr) => "Nossa equipe",
        (_, _) => "Portal",
    }
}

/// A counter's name in words.
pub fn counter_name(c: &str, lang: Lang) -> &'static str {
    let w = eq_words(lang);
    match c {
        "colour" => w.colour,
        "scans" => w.scans,
        _ => w.mono,
    }
}

/// Why a typed count or a reading is refused, in the person's language.
pub fn reading_error(e: &ReadingError, lang: Lang) -> String {
    use ReadingError as R;
    match (e, lang) {
        (R::Empty(c), Lang::En) => format!("the {} counter is empty", counter_name(c, lang)),
        (R::Empty(c), Lang::Es) => format!("el contador {} está vacío", counter_name(c, lang)),
        (R::Empty(c), Lang::PtBr) => format!("o contador {} está vazio", counter_name(c, lang)),
        (R::NotANumber(t), Lang::En) => format!("{t:?} is not a number of pages"),
        (R::NotANumber(t), Lang::Es) => format!("«{t}» no es un número de páginas"),
        (R::NotANumber(t), Lang::PtBr) => format!("“{t}” não é um número de páginas"),
        (R::NotWhole(t), Lang::En) => format!("a counter is a whole number of pages, not {t:?}"),
        (R::NotWhole(t), Lang::Es) => {
            format!("un contador es un número entero de páginas, no «{t}»")
        }
        (R::NotWhole(t), Lang::PtBr) => {
            format!("um contador é um número inteiro de páginas, não “{t}”")
        }
        (R::Negative(t), Lang::En) => format!("a counter cannot be negative ({t})"),
        (R::Negative(t), Lang::Es) => format!("un contador no puede ser negativo ({t})"),
        (R::Negative(t), Lang::PtBr) => format!("um contador não pode ser negativo ({t})"),
        (R::TooLarge(t), Lang::En) => {
            format!("{t} is more than any machine counts (at most {MAX_COUNT})")
        }
        (R::TooLarge(t), Lang::Es) => format!("{t} es más de lo que cuenta una máquina"),
        (R::TooLarge(t), Lang::PtBr) => format!("{t} é mais do que uma máquina conta"),
        (
            R::BelowPrevious {
                counter,
                previous,
                given,
            },
            _,
        ) => {
            let (name, given, previous) = (
                counter_name(counter, lang),
                count(*given, lang),
                count(*previous, lang),
            );
            match lang {
                Lang::En => format!(
                    "{name}: {given} is below the previous reading of {previous}; a counter only goes up"
                ),
                Lang::Es => format!(
                    "{name}: {given} es menor que la lectura anterior, {previous}; un contador solo sube"
                ),
                Lang::PtBr => format!(
                    "{name}: {given} é menor que a leitura anterior, {previous}; um contador só aumenta"
                ),
            }
        }
        (R::NoCounter, _) => eq_words(lang).counter_empty.to_owned(),
        (R::BeforePrevious, Lang::En) => "a reading cannot be dated before the previous one".into(),
        (R::BeforePrevious, Lang::Es) => {
            "una lectura no puede tener fecha anterior a la previa".into()
        }
        (R::BeforePrevious, Lang::PtBr) => {
            "uma leitura não pode ter data anterior à anterior".into()
        }
    }
}

/// What a jump asks the person to confirm.
pub fn jump_words(j: &Jump, lang: Lang) -> String {
    let (name, pages, usual) = (
        counter_name(j.counter.as_str(), lang),
        count(j.pages, lang),
        count(j.usual_limit, lang),
    );
    match lang {
        Lang::En => format!("{name}: {pages} pages since the last reading, usually under {usual}"),
        Lang::Es => {
            format!("{name}: {pages} páginas desde la última lectura; lo usual es menos de {usual}")
        }
        Lang::PtBr => {
            format!("{name}: {pages} páginas desde a última leitura; o normal é menos de {usual}")
        }
    }
}

/// A machine as a list or page shows it.
#[derive(Debug, Clone)]
pub struct MachineView {
    pub id: String,
    /// The site it is at (its id), or empty.
    pub site_id: String,
    pub model: String,
    pub maker: String,
    pub serial: String,
    pub asset_tag: String,
    pub location: String,
    pub status: String,
    pub status_word: &'static str,
    pub installed: String,
    pub last_reading: String,
    /// The day of its last finished visit.
    pub last_visit: String,
}

pub fn machine_view(m: &Machine, last: Option<&MeterReading>, lang: Lang) -> MachineView {
    MachineView {
        id: m.id.clone(),
        site_id: m.site_id.clone().unwrap_or_default(),
        model: m.model.clone(),
        maker: m.maker.clone().unwrap_or_default(),
        serial: m.serial.clone(),
        asset_tag: m.asset_tag.clone().unwrap_or_default(),
        location: m.location.clone().unwrap_or_default(),
        status: m.status.clone(),
        status_word: status_word(&m.status, lang),
        installed: m.installed_on.map(|d| date(d, lang)).unwrap_or_default(),
        last_reading: last.map(|r| date(r.day, lang)).unwrap_or_default(),
        last_visit: m
            .last_visit_at
            .map(|ms| date(ms.div_euclid(86_400_000), lang))
            .unwrap_or_default(),
    }
}

/// One row of a machine's reading history.
#[derive(Debug, Clone)]
pub struct ReadingRow {
    pub id: String,
    pub day: String,
    pub day_iso: String,
    pub mono: String,
    pub colour: String,
    pub scans: String,
    pub source: &'static str,
    pub photo: bool,
}

/// The history, newest first.
pub fn history(readings: &[MeterReading], lang: Lang) -> Vec<ReadingRow> {
    let shown = |v: Option<i64>| v.map(|n| count(n, lang)).unwrap_or_else(|| "—".into());
    readings
        .iter()
        .rev()
        .map(|r| ReadingRow {
            id: r.id.clone(),
            day: date(r.day, lang),
            day_iso: iso_date(r.day),
            mono: shown(r.mono),
            colour: shown(r.colour),
            scans: shown(r.scans),
            source: source_word(&r.source, lang),
            photo: r.photo.is_some(),
        })
        .collect()
}

/// A bar of the consumption chart: the pages a month between two readings.
#[derive(Debug, Clone)]
pub struct Bar {
    pub x: i64,
    pub mono_y: i64,
    pub mono_h: i64,
    pub colour_y: i64,
    pub colour_h: i64,
    pub label: String,
    pub title: String,
}

/// The consumption chart: the last 24 intervals between readings, as pages per 30 days,
/// mono and colour stacked. Drawn in a 600 × 160 box.
#[derive(Debug, Clone, Default)]
pub struct Chart {
    pub bars: Vec<Bar>,
    pub width: i64,
    pub max: String,
    /// The same numbers in words, for screen readers.
    pub summary: String,
}

pub const CHART_HEIGHT: i64 = 140;

pub fn chart(readings: &[MeterReading], lang: Lang) -> Chart {
    let mut points: Vec<(i64, i64, i64, String)> = Vec::new();
    for pair in readings.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let days = b.day - a.day;
        if days <= 0 {
            continue;
        }
        let per = |x: Option<i64>, y: Option<i64>| match (x, y) {
            (Some(x), Some(y)) if y >= x => (y - x) * 30 / days,
            _ => 0,
        };
        points.push((
            b.day,
            per(a.mono, b.mono),
            per(a.colour, b.colour),
            date(b.day, lang),
        ));
    }
    let mut c = bars(&points, lang);
    c.max = format!("{} {}", c.max, eq_words(lang).per_month);
    c
}

/// A contract's consumption: each closed period's copies (black & white and colour, all
/// its machines), oldest first, the last 24, in the same box as a machine's chart.
pub fn period_chart(periods: &[ClosedPeriod], lang: Lang) -> Chart {
    let mut points: Vec<(i64, i64, i64, String)> = Vec::new();
    for p in periods.iter().rev() {
        let Ok(calc) = serde_json::from_str::<Calculation>(&p.calculation) else {
            continue;
        };
        let sum = |c: Counter| {
            calc.steps
                .iter()
                .filter(|s| s.counter == c)
                .map(|s| s.used)
                .sum::<i64>()
        };
        points.push((
            p.from_day,
            sum(Counter::Mono),
            sum(Counter::Colour),
            format!("{} – {}", date(p.from_day, lang), date(p.to_day - 1, lang)),
        ));
    }
    bars(&points, lang)
}

/// The last 24 points `(day, mono, colour, what they are)` as stacked bars.
fn bars(points: &[(i64, i64, i64, String)], lang: Lang) -> Chart {
    let w = eq_words(lang);
    let start = points.len().saturating_sub(24);
    let points = &points[start..];
    let max = points.iter().map(|p| p.1 + p.2).max().unwrap_or(0).max(1);
    let slot = 600 / i64::try_from(points.len().max(1)).unwrap_or(1);
    let bar = (slot * 2 / 3).max(4);
    let bars: Vec<Bar> = points
        .iter()
        .enumerate()
        .map(|(i, (day, mono, colour, what))| {
            let mono_h = mono * CHART_HEIGHT / max;
            let colour_h = colour * CHART_HEIGHT / max;
            let (y, m, _) = switchboard_portal::locale::civil(*day);
            Bar {
                x: i64::try_from(i).unwrap_or(0) * slot + (slot - bar) / 2,
                mono_y: CHART_HEIGHT - mono_h,
                mono_h,
                colour_y: CHART_HEIGHT - mono_h - colour_h,
                colour_h,
                label: format!("{m:02}/{}", y % 100),
                title: format!(
                    "{what}: {} {} · {} {}",
                    count(*mono, lang),
                    w.mono,
                    count(*colour, lang),
                    w.colour
                ),
            }
        })
        .collect();
    let summary = bars
        .iter()
        .map(|b| b.title.clone())
        .collect::<Vec<_>>()
        .join("; ");
    Chart {
        width: bar,
        max: count(max, lang),
        bars,
        summary,
    }
}

/// The counters typed in a reading form.
#[derive(Debug, Clone, Default)]
pub struct TypedReading {
    pub mono: String,
    pub colour: String,
    pub scans: String,
}

/// The counters of a form, each read as people type them (`45.210`, `45 210`); empty
/// ones left out. The error names the counter.
pub fn typed(t: &TypedReading, lang: Lang) -> Result<Counts, String> {
    let w = eq_words(lang);
    let one = |s: &str, c: Counter, name: &str| -> Result<Option<i64>, String> {
        if s.trim().is_empty() {
            return Ok(None);
        }
        parse_count(s, c)
            .map(Some)
            .map_err(|e: ReadingError| format!("{name}: {}", reading_error(&e, lang)))
    };
    let mono = one(&t.mono, Counter::Mono, w.mono)?;
    let colour = one(&t.colour, Counter::Colour, w.colour)?;
    let scans = one(&t.scans, Counter::Scans, w.scans)?;
    if mono.is_none() && colour.is_none() && scans.is_none() {
        return Err(w.counter_empty.to_owned());
    }
    Ok(Counts {
        mono,
        colour,
        scans,
    })
}

/// A contract's terms in words.
#[derive(Debug, Clone)]
pub struct ContractView {
    pub id: String,
    pub number: String,
    pub period: &'static str,
    pub fee: String,
    pub from: String,
    pub renews: String,
    pub ends: String,
    pub pooling: &'static str,
    /// `(counter, included copies, bands "from N: price per 1,000")`.
    pub allowances: Vec<(&'static str, String, Vec<String>)>,
    pub read_before: Option<i64>,
    pub document: bool,
}

fn counter_word(c: Counter, lang: Lang) -> &'static str {
    let w = eq_words(lang);
    match c {
        Counter::Mono => w.mono,
        Counter::Colour => w.colour,
        Counter::Scans => w.scans,
    }
}

fn exponent(currency: &str) -> u8 {
    switchboard_core::money::Currency::parse(currency).map_or(2, |c| c.exponent())
}

pub fn contract_view(c: &Contract, lang: Lang) -> ContractView {
    let w = eq_words(lang);
    let terms: Option<Terms> = serde_json::from_str(&c.terms).ok();
    let ex = exponent(&c.currency);
    let per = match lang {
        Lang::En => "per 1,000",
        Lang::Es => "cada 1.000",
        Lang::PtBr => "por milheiro",
    };
    let beyond = match lang {
        Lang::En => "from",
        Lang::Es => "desde",
        Lang::PtBr => "a partir de",
    };
    let allowances = terms
        .as_ref()
        .map(|t| {
            t.allowances
                .iter()
                .map(|a| {
                    let bands = a
                        .tiers
                        .iter()
                        .map(|t| {
                            let price = money(t.per_thousand, &c.currency, ex, lang);
                            if t.from == 0 {
                                format!("{price} {per}")
                            } else {
                                format!(
                                    "{price} {per} {beyond} {}",
                                    count(a.included + t.from + 1, lang)
                                )
                            }
                        })
                        .collect();
                    (
                        counter_word(a.counter, lang),
                        count(a.included, lang),
                        bands,
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    ContractView {
        id: c.id.clone(),
        number: c.number.clone(),
        period: if c.period == "quarterly" {
            w.quarterly
        } else {
            w.monthly
        },
        fee: money(c.fee, &c.currency, ex, lang),
        from: date(c.start_day, lang),
        renews: c.renewal_day.map(|d| date(d, lang)).unwrap_or_default(),
        ends: c.end_day.map(|d| date(d, lang)).unwrap_or_default(),
        pooling: match terms.map(|t| t.pooling) {
            Some(Pooling::PerMachine) => w.per_machine,
            _ => w.pooled,
        },
        allowances,
        read_before: c.read_before,
        document: c.document.is_some(),
    }
}

/// One line of a period's calculation.
#[derive(Debug, Clone)]
pub struct StepRow {
    pub counter: &'static str,
    pub machines: String,
    pub used: String,
    pub included: String,
    pub extra: String,
    /// `(copies, price per 1,000, amount)` per band.
    pub bands: Vec<(String, String, String)>,
    pub estimated: bool,
}

/// A closed period as its calculation shows it.
#[derive(Debug, Clone)]
pub struct PeriodView {
    pub n: i64,
    pub span: String,
    pub steps: Vec<StepRow>,
    /// The invoice's number when the client may open it.
    pub invoice: Option<String>,
}

pub fn period_view(
    p: &ClosedPeriod,
    c: &Contract,
    serial: &dyn Fn(&str) -> String,
    invoice: Option<String>,
    lang: Lang,
) -> PeriodView {
    let w = eq_words(lang);
    let ex = exponent(&c.currency);
    let calc: Option<Calculation> = serde_json::from_str(&p.calculation).ok();
    let steps = calc
        .map(|calc| {
            calc.steps
                .iter()
                .map(|s| StepRow {
                    counter: counter_word(s.counter, lang),
                    machines: if s.slot.is_none() {
                        w.all_machines.to_owned()
                    } else {
                        s.machines
                            .iter()
                            .map(|m| serial(m))
                            .collect::<Vec<_>>()
                            .join(" → ")
                    },
                    used: count(s.used, lang),
                    included: count(s.included, lang),
                    extra: count(s.extra, lang),
                    bands: s
                        .bands
                        .iter()
                        .map(|b| {
                            // The band's amount as the invoice's arithmetic rounds it.
                            let line = switchboard_portal::totals::Line {
                                quantity_milli: b.copies,
                                unit_price: b.per_thousand,
                                discount: switchboard_portal::totals::Discount::None,
                                tax_rate_bp: 0,
                                tax_inclusive: false,
                            };
                            let amount = switchboard_portal::totals::totals(
                                &[line],
                                switchboard_portal::totals::Rounding::PerLine,
                            )
                            .map_or(0, |t| t.subtotal);
                            (
                                count(b.copies, lang),
                                money(b.per_thousand, &c.currency, ex, lang),
                                money(amount, &c.currency, ex, lang),
                            )
                        })
                        .collect(),
                    estimated: s.estimated,
                })
                .collect()
        })
        .unwrap_or_default();
    PeriodView {
        n: p.n,
        span: format!("{} – {}", date(p.from_day, lang), date(p.to_day - 1, lang)),
        steps,
        invoice,
    }
}

/// A request about a machine, as its page lists it.
#[derive(Debug, Clone)]
pub struct RequestView {
    /// The conversation's number (a portal ticket's is the same).
    pub number: i64,
    /// It came as a portal ticket (the client has a page for it).
    pub ticket: bool,
    pub subject: String,
    pub status: String,
    pub kind: &'static str,
    pub toner: String,
    pub day: String,
}

pub fn request_views(
    list: &[switchboard_core::store::MachineRequest],
    lang: Lang,
) -> Vec<RequestView> {
    list.iter()
        .map(|r| RequestView {
            number: r.number,
            ticket: r.ticket_id.is_some(),
            subject: r.subject.clone(),
            status: r.status.clone(),
            kind: request_word(&r.kind, lang),
            toner: r
                .toner
                .iter()
                .map(|c| toner_word(c, lang))
                .collect::<Vec<_>>()
                .join(", "),
            day: date(r.day, lang),
        })
        .collect()
}

/// The `?saved=` a machine page is sent back to after a reading.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Saved {
    #[serde(default)]
    saved: Option<String>,
}

impl Saved {
    /// What the page says: stored, or stored before.
    pub fn notice(&self, e: &'static EqWords) -> Option<&'static str> {
        match self.saved.as_deref() {
            Some("1") => Some(e.stored),
            Some("again") => Some(e.duplicate),
            _ => None,
        }
    }
}

/// Machines as the message readers match them (`switchboard_portal::machines::named`).
pub fn known(machines: &[Machine]) -> Vec<switchboard_portal::machines::Known> {
    machines
        .iter()
        .map(|m| switchboard_portal::machines::Known {
            id: m.id.clone(),
            serial: m.serial.clone(),
            asset_tag: m.asset_tag.clone(),
        })
        .collect()
}

/// Each machine's latest reading, by machine id, in one query.
pub async fn last_readings(
    store: &switchboard_core::store::Store,
    machines: &[Machine],
) -> switchboard_core::Result<std::collections::HashMap<String, MeterReading>> {
    let ids: Vec<String> = machines.iter().map(|m| m.id.clone()).collect();
    Ok(store
        .last_readings(&ids)
        .await?
        .into_iter()
        .map(|r| (r.machine_id.clone(), r))
        .collect())
}
