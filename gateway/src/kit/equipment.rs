//! Equipment operations every surface shares: closing contract periods into overage
//! invoices (the hourly job on every node, `switchboard equipment close`, the benchmark),
//! a machine's readings as the portal crate's rules read them, and a reading checked and
//! stored.
//!
//! The rules are the portal crate's (`contracts`, `overage`, `readings`); the store bills
//! a period once (`close_period`). Memory stays flat: contracts are read a page at a time
//! and each contract's readings once.

use std::collections::HashMap;

use switchboard_core::clock::Ids;
use switchboard_core::money::Currency;
use switchboard_core::store::{
    ClosedPeriod, Contract, MeterReading, NewInvoice, NewReading, PeriodInvoice, ReadingOutcome,
    Store,
};
use switchboard_portal::contracts::{Attached, Calculation, calculate, lines};
use switchboard_portal::document::{Document, Party};
use switchboard_portal::locale::{Lang, civil};
use switchboard_portal::numbering::Pattern;
use switchboard_portal::overage::{Period, Terms, period};
use switchboard_portal::readings::{Counts, Reading, check, monthly_average};
use switchboard_portal::totals::Rounding;

/// Contracts read per page by the period job.
const PAGE: i64 = 200;
/// Days after a period's end its invoice is due.
pub const DUE_DAYS: i64 = 10;

/// What a run of the period job did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CloseReport {
    pub contracts: usize,
    /// Periods this run closed.
    pub periods: usize,
    /// Of them, those that billed something.
    pub invoices: usize,
    /// Contracts whose terms could not be read (named in the log).
    pub failed: usize,
}

/// A stored reading as the rules read it.
pub fn reading(r: &MeterReading) -> Reading {
    Reading {
        day: r.day,
        counts: Counts {
            mono: r.mono,
            colour: r.colour,
            scans: r.scans,
        },
    }
}

/// The contract's period length.
pub fn every(c: &Contract) -> Period {
    if c.period == "quarterly" {
        Period::Quarterly
    } else {
        Period::Monthly
    }
}

/// The contract's terms, or why they cannot be read.
pub fn terms(c: &Contract) -> Result<Terms, String> {
    serde_json::from_str(&c.terms).map_err(|e| format!("contract {}: its terms: {e}", c.number))
}

/// Closes every period that ended by `today` of every contract, in order, each once.
/// Invoices are numbered by `pattern` and left as drafts for the desk to review and send;
/// their lines are written in `lang`.
pub async fn close_periods(
    store: &Store,
    ids: &Ids,
    pattern: &Pattern,
    lang: Lang,
    today: i64,
) -> switchboard_core::Result<CloseReport> {
    let mut report = CloseReport::default();
    let mut after = String::new();
    loop {
        let page = store.contracts_after(&after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.id.clone();
        for c in &page {
            report.contracts += 1;
            match close_contract(store, ids, pattern, lang, today, c).await {
                Ok((periods, invoices)) => {
                    report.periods += periods;
                    report.invoices += invoices;
                }
                Err(e) => {
                    report.failed += 1;
                    tracing::warn!(contract = %c.id, error = %e, "contract period not closed");
                }
            }
        }
    }
    Ok(report)
}

/// One contract's due periods: `(closed, invoiced)`.
async fn close_contract(
    store: &Store,
    ids: &Ids,
    pattern: &Pattern,
    lang: Lang,
    today: i64,
    c: &Contract,
) -> switchboard_core::Result<(usize, usize)> {
    let terms = terms(c).map_err(switchboard_core::Error::Invalid)?;
    let every = every(c);
    let last = store.contract_periods(&c.id, 1).await?.into_iter().next();
    let mut previous: Option<Calculation> = match &last {
        Some(p) => Some(
            serde_json::from_str(&p.calculation)
                .map_err(|e| switchboard_core::Error::Invalid(format!("period {}: {e}", p.n)))?,
        ),
        None => None,
    };
    let mut n = last.map_or(0, |p| p.n + 1);
    let (mut closed, mut invoiced) = (0, 0);
    let mut loaded: Option<Loaded> = None;
    loop {
        let (from, mut to) = period(c.start_day, every, n);
        if c.end_day.is_some_and(|e| from >= e) {
            break;
        }
        if let Some(e) = c.end_day {
            to = to.min(e);
        }
        if to > today {
            break;
        }
        if loaded.is_none() {
            loaded = Some(load(store, c, today).await?);
        }
        let Some((attached, readings, serials)) = &loaded else {
            break;
        };
        let none: Vec<Reading> = Vec::new();
        let calc = calculate(
            &terms,
            n,
            (from, to),
            attached,
            |m| readings.get(m).map_or(&none[..], |v| &v[..]),
            previous.as_ref(),
        )
        .map_err(|e| switchboard_core::Error::Invalid(e.to_string()))?;
        let currency = Currency::parse(&c.currency)?;
        let doc = Document {
            lines: lines(
                &calc,
                &c.number,
                c.fee,
                &terms,
                (&c.currency, currency.exponent()),
                lang,
                |m| serials.get(m).cloned().unwrap_or_else(|| m.to_owned()),
            ),
            rounding: Rounding::PerLine,
            notes: String::new(),
            terms: String::new(),
            bill_to: Party::default(),
        };
        let row = ClosedPeriod {
            contract_id: c.id.clone(),
            n,
            from_day: from,
            to_day: to,
            calculation: serde_json::to_string(&calc)
                .map_err(|e| switchboard_core::Error::Invalid(e.to_string()))?,
            invoice_id: None,
            closed_at: 0,
        };
        let done = match doc.check() {
            // Nothing to bill (no fee, no extra copies): the period closes without one.
            Err(_) if doc.lines.is_empty() || doc.totals().is_ok_and(|t| t.total == 0) => {
                store.close_period(ids, &row, None).await?
            }
            Err(e) => return Err(switchboard_core::Error::Invalid(e.to_string())),
            Ok(t) => {
                let (year, month, _) = civil(to);
                let counter = if pattern.yearly() {
                    format!("invoice:{year}")
                } else {
                    "invoice".to_owned()
                };
                let json = doc.to_json();
                let number =
                    |seq: u64| pattern.format(i32::try_from(year).unwrap_or(1970), month, seq);
                let p = PeriodInvoice {
                    invoice: NewInvoice {
                        kind: "invoice",
                        company_id: Some(&c.company_id),
                        contact_id: &c.contact_id,
                        status: "draft",
                        currency: &c.currency,
                        document: &json,
                        subtotal: t.subtotal,
                        tax: t.tax,
                        total: t.total,
                        issue_day: to,
                        due_day: Some(to + DUE_DAYS),
                        external_id: None,
                    },
                    counter: &counter,
                    number: &number,
                };
                store.close_period(ids, &row, Some(&p)).await?
            }
        };
        match done {
            Some(p) => {
                closed += 1;
                invoiced += usize::from(p.invoice_id.is_some());
            }
            // Another node closed it: its calculation is the one the next period follows.
            None => {
                let theirs = store.contract_periods(&c.id, 1).await?;
                if let Some(p) = theirs.first().filter(|p| p.n == n) {
                    previous = serde_json::from_str(&p.calculation).ok();
                    n += 1;
                    continue;
                }
                break;
            }
        }
        previous = Some(calc);
        n += 1;
    }
    Ok((closed, invoiced))
}

type Loaded = (
    Vec<Attached>,
    HashMap<String, Vec<Reading>>,
    HashMap<String, String>,
);

/// A contract's machines in their slots, their readings up to `today` and their serials.
async fn load(store: &Store, c: &Contract, today: i64) -> switchboard_core::Result<Loaded> {
    let slots = store.contract_machines(&c.id).await?;
    let attached: Vec<Attached> = slots
        .iter()
        .map(|s| Attached {
            machine: s.machine_id.clone(),
            slot: s.slot.clone(),
            from: s.from_day,
            to: s.to_day,
        })
        .collect();
    let mut machine_ids: Vec<String> = slots.iter().map(|s| s.machine_id.clone()).collect();
    machine_ids.sort_unstable();
    machine_ids.dedup();
    let mut readings: HashMap<String, Vec<Reading>> = HashMap::new();
    for r in store.readings_of_machines(&machine_ids, today).await? {
        readings
            .entry(r.machine_id.clone())
            .or_default()
            .push(reading(&r));
    }
    // A contract's machines are its company's: their serials in one query.
    let serials = store
        .company_machines(&c.company_id)
        .await?
        .into_iter()
        .filter(|m| machine_ids.binary_search(&m.id).is_ok())
        .map(|m| (m.id, m.serial))
        .collect();
    Ok((attached, readings, serials))
}

/// Checks a reading against the machine's history with the rules of `readings::check`
/// and stores it once. Refusals are `Invalid`, and questions `Confirm`, in `lang`.
pub async fn record(
    state: &crate::kit::AppState,
    new: &NewReading<'_>,
    lang: Lang,
) -> switchboard_core::Result<ReadingOutcome> {
    let (store, ids) = (&state.store, &state.ids);
    let counts = Counts {
        mono: new.mono,
        colour: new.colour,
        scans: new.scans,
    };
    let day = new.day;
    let outcome = store
        .record_reading(ids, new, move |history| {
            let past: Vec<Reading> = history.iter().map(reading).collect();
            let average = monthly_average(&past);
            let jumps = check(past.last(), &average, &Reading { day, counts })
                .map_err(|e| crate::kit::machines::reading_error(&e, lang))?;
            Ok(jumps
                .iter()
                .map(|j| crate::kit::machines::jump_words(j, lang))
                .collect())
        })
        .await;
    if let Ok(ReadingOutcome::Stored(r)) = &outcome {
        let event = switchboard_core::webhooks::event(
            "reading.entered",
            &r.id,
            r.created_at,
            serde_json::json!({ "reading": r }),
        );
        switchboard_core::webhooks::emit(store, &state.stream, ids, &[event]).await;
    }
    outcome
}

/// The period job with this deployment's invoice numbering and language (the first
/// mailbox's, else English).
pub async fn close_now(
    state: &crate::kit::AppState,
    today: i64,
) -> Result<CloseReport, crate::kit::error::ApiError> {
    let source = &state.config.portal.invoice_pattern;
    let pattern = Pattern::parse(source).map_err(|e| {
        crate::kit::error::ApiError::Unavailable(format!("the numbering pattern {source:?}: {e}"))
    })?;
    let lang = state
        .email_sender
        .any_mailbox()
        .map_or(Lang::En, |m| Lang::from_tag(m.lang.html_tag()));
    Ok(close_periods(&state.store, &state.ids, &pattern, lang, today).await?)
}

/// Readings sent in words on WhatsApp or by mail ("leitura da E174M123456: 45.210",
/// "reading for PAT-001 mono 45,210 colour 12,001"), read before the bot: a message that
/// gives counts and names exactly one machine of the sender's company stores the reading
/// (once per message; the same counts the same day from the portal too are one reading)
/// and answers it; a refusal is answered in words; a jump to confirm goes to people. Any
/// other message goes on to `inner` (the bot, which this runs in front of when the bot is
/// enabled). Like the bot, this reads conversations no person has joined; in the others
/// the desk enters what the client wrote. A message that is not a reading but names one of
/// the company's machines links its conversation to the machine (`link_named`) before the
/// bot answers.
///
/// Tests: e2e `whatsapp::a_reading_sent_on_whatsapp_is_stored_once_and_answered`,
/// `equipment::a_reading_sent_by_mail_is_stored_and_answered_by_mail`,
/// `equipment::a_mail_naming_a_machine_becomes_its_request_and_the_agent_corrects_it`.
#[derive(Debug)]
pub struct ReadingsByMessage {
    pub inner: std::sync::Arc<dyn switchboard_core::bot::BotHook>,
    pub state: crate::kit::AppState,
}

fn reading_reply(serial: &str, r: &MeterReading, again: bool, lang: Lang) -> String {
    let w = crate::kit::machines::eq_words(lang);
    let mut parts = Vec::new();
    for (name, v) in [(w.mono, r.mono), (w.colour, r.colour), (w.scans, r.scans)] {
        if let Some(v) = v {
            parts.push(format!(
                "{name} {}",
                switchboard_portal::locale::count(v, lang)
            ));
        }
    }
    let counts = parts.join(", ");
    match (lang, again) {
        (Lang::En, false) => format!("Thank you! Reading saved for {serial}: {counts}."),
        (Lang::En, true) => format!("That reading for {serial} was already saved: {counts}."),
        (Lang::Es, false) => format!("¡Gracias! Lectura guardada para {serial}: {counts}."),
        (Lang::Es, true) => format!("Esa lectura de {serial} ya estaba guardada: {counts}."),
        (Lang::PtBr, false) => format!("Obrigado! Leitura salva para {serial}: {counts}."),
        (Lang::PtBr, true) => format!("Essa leitura da {serial} já estava salva: {counts}."),
    }
}

fn confirm_reply(serial: &str, asks: &[String], lang: Lang) -> String {
    let asks = asks.join("; ");
    match lang {
        Lang::En => format!(
            "The reading for {serial} is much more than usual ({asks}). Our team will check it with you."
        ),
        Lang::Es => format!(
            "La lectura de {serial} es mucho más de lo usual ({asks}). Nuestro equipo la revisará con usted."
        ),
        Lang::PtBr => format!(
            "A leitura da {serial} está bem acima do normal ({asks}). Nossa equipe vai conferir com você."
        ),
    }
}

/// The language of a reading in words: its own words first, then the contact's.
fn reading_lang(text: &str, contact: Option<&str>) -> Lang {
    let t = text.to_lowercase();
    if t.contains("leitura") || t.contains("contador da") || t.contains("contador do") {
        Lang::PtBr
    } else if t.contains("lectura") {
        Lang::Es
    } else {
        contact.map_or(Lang::En, Lang::from_tag)
    }
}

impl ReadingsByMessage {
    async fn reading(
        &self,
        input: &switchboard_core::bot::BotInput<'_>,
    ) -> switchboard_core::Result<Option<switchboard_core::bot::BotDecision>> {
        use switchboard_core::bot::{BotAnswer, BotDecision};
        use switchboard_core::domain::{Channel, Handoff, RichContent, Tier};
        let source = match input.message.channel {
            Channel::Whatsapp => "whatsapp",
            Channel::Email => "email",
            _ => return Ok(None),
        };
        let Some(said) = switchboard_portal::readings::said(&input.message.text) else {
            return Ok(None);
        };
        let contact = &input.conversation.contact_id;
        let Some(Some(company)) = self.state.store.contact_company(contact).await? else {
            return Ok(None);
        };
        let machines = self.state.store.company_machines(&company).await?;
        let known = crate::kit::machines::known(&machines);
        let found = switchboard_portal::machines::named(&said.machine, &known);
        let [one] = found.as_slice() else {
            return Ok(None);
        };
        let (language, _) = self.state.store.contact_mail_preferences(contact).await?;
        let lang = reading_lang(&input.message.text, language.as_deref());
        let key = format!("{source}:{}", input.message.id);
        let new = NewReading {
            machine_id: &one.id,
            // The day it is read here: a delayed delivery's own stamp may be days old.
            day: self.state.ids.now_ms().div_euclid(86_400_000),
            mono: said.counts.mono,
            colour: said.counts.colour,
            scans: said.counts.scans,
            source,
            user_id: None,
            photo: None,
            key: &key,
            confirmed: false,
        };
        let answer = |text: String| BotAnswer {
            text,
            content: RichContent::default(),
            confidence: 1.0,
        };
        let decision = match record(&self.state, &new, lang).await {
            Ok(ReadingOutcome::Stored(r)) => BotDecision {
                answer: Some(answer(reading_reply(&one.serial, &r, false, lang))),
                handoff: None,
            },
            Ok(ReadingOutcome::Duplicate(r)) => BotDecision {
                answer: Some(answer(reading_reply(&one.serial, &r, true, lang))),
                handoff: None,
            },
            Ok(ReadingOutcome::Confirm(asks)) => BotDecision {
                answer: Some(answer(confirm_reply(&one.serial, &asks, lang))),
                handoff: Some(Handoff {
                    tier: Tier::N1,
                    reason: format!(
                        "meter reading of {} to confirm: {}",
                        one.serial,
                        asks.join("; ")
                    ),
                    summary: None,
                }),
            },
            Err(switchboard_core::Error::Invalid(why)) => BotDecision {
                answer: Some(answer(format!("{}: {why}", one.serial))),
                handoff: None,
            },
            Err(e) => return Err(e),
        };
        Ok(Some(decision))
    }
}

impl ReadingsByMessage {
    /// A message that names exactly one of the sender's company's machines, in a
    /// conversation not yet about one, links it to that machine with what its words seem
    /// to ask (`machines::asked`), for the desk to confirm: the machine's card shows.
    async fn link_named(
        &self,
        input: &switchboard_core::bot::BotInput<'_>,
    ) -> switchboard_core::Result<()> {
        let store = &self.state.store;
        let conversation = &input.conversation;
        let Some(company) = conversation.company_id.as_deref() else {
            return Ok(());
        };
        if store
            .conversation_request(&conversation.id)
            .await?
            .is_some()
        {
            return Ok(());
        }
        let machines = store.company_machines(company).await?;
        let known = crate::kit::machines::known(&machines);
        let text = &input.message.text;
        let [one] = switchboard_portal::machines::named(text, &known)[..] else {
            return Ok(());
        };
        let Some(machine) = machines.iter().find(|m| m.id == one.id) else {
            return Ok(());
        };
        let asked = switchboard_portal::machines::asked(text);
        let toner: Vec<String> = asked.toner.iter().map(|c| (*c).to_owned()).collect();
        let link = Link {
            conversation_id: &conversation.id,
            ticket_id: None,
            kind: asked.kind,
            toner: &toner,
            confirmed: false,
            replace: false,
        };
        link_request(&self.state, link, machine).await?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl switchboard_core::bot::BotHook for ReadingsByMessage {
    async fn on_message(
        &self,
        input: &switchboard_core::bot::BotInput<'_>,
    ) -> switchboard_core::Result<switchboard_core::bot::BotDecision> {
        if let Some(d) = self.reading(input).await? {
            return Ok(d);
        }
        if let Err(e) = self.link_named(input).await {
            tracing::warn!(conversation = %input.conversation.id, error = %e, "machine not linked");
        }
        self.inner.on_message(input).await
    }
}

/// What a request links: its conversation (and portal ticket), the machine, what is
/// asked, whether a person said so (a failure a person reports puts a machine in service
/// down; the bot's guess does not) and whether it replaces the conversation's request (an
/// agent's correction).
#[derive(Debug, Clone, Copy)]
pub struct Link<'a> {
    pub conversation_id: &'a str,
    pub ticket_id: Option<&'a str>,
    pub kind: &'a str,
    pub toner: &'a [String],
    pub confirmed: bool,
    pub replace: bool,
}

/// Links a conversation to the machine it is about and shows the machine's card in it
/// (model, serial, location, contract, last reading, open requests, and what is asked).
/// A failure a person reports puts a machine in service down (a visit brings it back).
/// Linking again without `replace` (a form sent twice) changes nothing. Whether this call
/// linked it.
pub async fn link_request(
    state: &crate::kit::AppState,
    link: Link<'_>,
    machine: &switchboard_core::store::Machine,
) -> switchboard_core::Result<bool> {
    use switchboard_core::domain::CardPayload;
    use switchboard_core::realtime::Event;
    let today = crate::kit::billing::today(state);
    let store = &state.store;
    let stored = store
        .add_machine_request(
            &state.ids,
            &switchboard_core::store::NewRequest {
                conversation_id: link.conversation_id,
                ticket_id: link.ticket_id,
                machine_id: &machine.id,
                kind: link.kind,
                toner: link.toner,
                day: today,
                replace: link.replace,
            },
        )
        .await?;
    if !stored {
        return Ok(false);
    }
    let (kind, toner) = (link.kind, link.toner);
    // A machine reported failing is down until a visit says otherwise.
    let mut status = machine.status.clone();
    if kind == "failure" && link.confirmed && status == "in_service" {
        store
            .set_machine_status(&state.ids, &machine.id, "down")
            .await?;
        status = "down".to_owned();
    }
    let contract = store.contract_of_machine(&machine.id, today).await?;
    let last = store.meter_readings(&machine.id, 1).await?;
    let last_reading = last.last().map(|r| {
        let mut parts = vec![switchboard_portal::locale::iso_date(r.day)];
        for (name, v) in [("mono", r.mono), ("colour", r.colour), ("scans", r.scans)] {
            if let Some(v) = v {
                parts.push(format!("{name} {v}"));
            }
        }
        parts.join(" · ")
    });
    let open = store
        .machine_requests(&machine.id, 1_000)
        .await?
        .iter()
        .filter(|r| r.status != "resolved")
        .count();
    let payload = CardPayload::Machine {
        id: machine.id.clone(),
        model: machine.model.clone(),
        serial: machine.serial.clone(),
        location: machine.location.clone(),
        status,
        request: kind.to_owned(),
        toner: toner.to_vec(),
        contract: contract.map(|c| c.number),
        last_reading,
        open_requests: u32::try_from(open).unwrap_or(u32::MAX),
    };
    let (card, fresh, scope) = store
        .put_card(&state.ids, link.conversation_id, payload)
        .await?;
    let event = if fresh {
        Event::CardAdded { scope, card }
    } else {
        Event::CardUpdated { scope, card }
    };
    if let Err(e) = state.realtime.publish(&event).await {
        tracing::debug!(error = %e, "realtime publish failed");
    }
    Ok(true)
}
