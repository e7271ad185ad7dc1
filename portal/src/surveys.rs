//! Surveys: what an answer may be, when it may still change, and the results: CSAT as the
//! share of satisfied answers (4 or 5) and its average, NPS as promoters (9–10) less
//! detractors (0–6), in whole percent.
//!
//! Pure: no IO, no clock (the caller passes now). The rules:
//! - CSAT is 1 to 5, NPS 0 to 10; an answer gives at least one of them; a comment is at
//!   most [`MAX_COMMENT`] characters.
//! - An answer may be changed for [`CHANGE_MS`] after it was first given; after that, or
//!   once the survey has expired, it stands.
//!
//! Tests: `surveys::tests` (every refusal named; NPS and CSAT worked by hand).

use serde::{Deserialize, Serialize};

use crate::locale::Lang;

/// How long an answer may still be changed: a day.
pub const CHANGE_MS: i64 = 86_400_000;
/// How long a survey may be answered: thirty days.
pub const OPEN_MS: i64 = 30 * 86_400_000;
/// The longest comment.
pub const MAX_COMMENT: usize = 2_000;

/// An answer as given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    pub csat: Option<i64>,
    pub nps: Option<i64>,
    pub comment: Option<String>,
}

/// Why an answer is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SurveyError {
    #[error("choose how satisfied you are, or how likely you are to recommend us")]
    Empty,
    #[error("satisfaction is 1 to 5")]
    Csat,
    #[error("the recommendation is 0 to 10")]
    Nps,
    #[error("the comment is longer than 2,000 characters")]
    Comment,
    #[error("this survey is closed")]
    Closed,
    #[error("this answer was given more than a day ago and stands")]
    Settled,
}

/// An answer as typed in a form (`csat`, `nps` as digits, a comment).
pub fn answer(csat: &str, nps: &str, comment: &str) -> Result<Answer, SurveyError> {
    let num = |s: &str, lo: i64, hi: i64, e: SurveyError| -> Result<Option<i64>, SurveyError> {
        let s = s.trim();
        if s.is_empty() {
            return Ok(None);
        }
        match s.parse::<i64>() {
            Ok(n) if (lo..=hi).contains(&n) => Ok(Some(n)),
            _ => Err(e),
        }
    };
    let csat = num(csat, 1, 5, SurveyError::Csat)?;
    let nps = num(nps, 0, 10, SurveyError::Nps)?;
    if csat.is_none() && nps.is_none() {
        return Err(SurveyError::Empty);
    }
    let comment = comment.trim();
    if comment.chars().count() > MAX_COMMENT {
        return Err(SurveyError::Comment);
    }
    Ok(Answer {
        csat,
        nps,
        comment: (!comment.is_empty()).then(|| comment.to_owned()),
    })
}

/// Whether an answer may be given now to a survey that expires at `expires_at` and was
/// first answered at `answered_at`.
pub fn may_answer(now: i64, expires_at: i64, answered_at: Option<i64>) -> Result<(), SurveyError> {
    match answered_at {
        Some(first) if now - first > CHANGE_MS => Err(SurveyError::Settled),
        // Changing a fresh answer is allowed even once the survey has closed to new ones.
        Some(_) => Ok(()),
        None if now >= expires_at => Err(SurveyError::Closed),
        None => Ok(()),
    }
}

/// Results over answers: counts, NPS and CSAT.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Results {
    /// Answers with a CSAT, and how many were satisfied (4 or 5).
    pub csat_answers: i64,
    pub satisfied: i64,
    /// The sum of CSAT answers (for the average).
    pub csat_sum: i64,
    /// Answers with an NPS, promoters (9–10) and detractors (0–6).
    pub nps_answers: i64,
    pub promoters: i64,
    pub detractors: i64,
}

impl Results {
    pub fn add(&mut self, csat: Option<i64>, nps: Option<i64>) {
        if let Some(c) = csat {
            self.csat_answers += 1;
            self.csat_sum += c;
            if c >= 4 {
                self.satisfied += 1;
            }
        }
        if let Some(n) = nps {
            self.nps_answers += 1;
            if n >= 9 {
                self.promoters += 1;
            } else if n <= 6 {
                self.detractors += 1;
            }
        }
    }

    /// NPS in whole points (−100 to 100), rounded half away from zero; `None` without
    /// answers.
    pub fn nps(&self) -> Option<i64> {
        (self.nps_answers > 0).then(|| {
            let diff = (self.promoters - self.detractors) * 100;
            let n = self.nps_answers;
            (2 * diff + diff.signum() * n) / (2 * n)
        })
    }

    /// The share of satisfied answers in whole percent, rounded half up.
    pub fn csat_percent(&self) -> Option<i64> {
        (self.csat_answers > 0)
            .then(|| (self.satisfied * 200 + self.csat_answers) / (2 * self.csat_answers))
    }

    /// The average CSAT in hundredths (4.25 is 425), rounded half up.
    pub fn csat_average(&self) -> Option<i64> {
        (self.csat_answers > 0)
            .then(|| (self.csat_sum * 200 + self.csat_answers) / (2 * self.csat_answers))
    }
}

/// A survey's words.
#[derive(Debug)]
pub struct SurveyWords {
    pub title: &'static str,
    pub about_request: &'static str,
    pub about_visit: &'static str,
    pub csat: &'static str,
    pub csat_low: &'static str,
    pub csat_high: &'static str,
    pub nps: &'static str,
    pub nps_low: &'static str,
    pub nps_high: &'static str,
    pub comment: &'static str,
    pub comment_hint: &'static str,
    pub send: &'static str,
    pub change: &'static str,
    pub thanks: &'static str,
    pub thanks_lead: &'static str,
    pub changeable: &'static str,
    pub closed: &'static str,
    pub waiting: &'static str,
}

pub fn survey_words(lang: Lang) -> &'static SurveyWords {
    match lang {
        Lang::En => &SurveyWords {
            title: "How did we do?",
            about_request: "About request #{n}",
            about_visit: "About visit {n}",
            csat: "How satisfied are you with how we handled it?",
            csat_low: "Very unsatisfied",
            csat_high: "Very satisfied",
            nps: "How likely are you to recommend us to a colleague?",
            nps_low: "Not at all likely",
            nps_high: "Extremely likely",
            comment: "Anything to tell us?",
            comment_hint: "Optional.",
            send: "Send",
            change: "Change my answer",
            thanks: "Thank you!",
            thanks_lead: "Your answer helps us serve you better.",
            changeable: "You can change it for a day.",
            closed: "This survey is closed. Thank you all the same.",
            waiting: "How did we do on request #{n}? Two taps to tell us.",
        },
        Lang::Es => &SurveyWords {
            title: "¿Cómo lo hicimos?",
            about_request: "Sobre la solicitud #{n}",
            about_visit: "Sobre la visita {n}",
            csat: "¿Qué tan satisfecho está con nuestra atención?",
            csat_low: "Muy insatisfecho",
            csat_high: "Muy satisfecho",
            nps: "¿Qué tan probable es que nos recomiende a un colega?",
            nps_low: "Nada probable",
            nps_high: "Muy probable",
            comment: "¿Algo que quiera contarnos?",
            comment_hint: "Opcional.",
            send: "Enviar",
            change: "Cambiar mi respuesta",
            thanks: "¡Gracias!",
            thanks_lead: "Su respuesta nos ayuda a atenderle mejor.",
            changeable: "Puede cambiarla durante un día.",
            closed: "Esta encuesta está cerrada. Gracias de todos modos.",
            waiting: "¿Cómo lo hicimos en la solicitud #{n}? Dos toques para contarnos.",
        },
        Lang::PtBr => &SurveyWords {
            title: "Como foi o nosso atendimento?",
            about_request: "Sobre a solicitação #{n}",
            about_visit: "Sobre a visita {n}",
            csat: "Quão satisfeito você está com o atendimento?",
            csat_low: "Muito insatisfeito",
            csat_high: "Muito satisfeito",
            nps: "Qual a chance de você nos recomendar a um colega?",
            nps_low: "Nenhuma chance",
            nps_high: "Com certeza",
            comment: "Quer nos contar algo?",
            comment_hint: "Opcional.",
            send: "Enviar",
            change: "Alterar minha resposta",
            thanks: "Obrigado!",
            thanks_lead: "Sua resposta nos ajuda a atender você melhor.",
            changeable: "Você pode alterá-la durante um dia.",
            closed: "Esta pesquisa está encerrada. Obrigado mesmo assim.",
            waiting: "Como foi o atendimento da solicitação #{n}? Dois toques para nos contar.",
        },
    }
}

/// Why an answer is refused, in the person's language.
pub fn survey_error(e: &SurveyError, lang: Lang) -> &'static str {
    match (e, lang) {
        (SurveyError::Empty, Lang::En) => {
            "Choose how satisfied you are, or how likely you are to recommend us."
        }
        (SurveyError::Empty, Lang::Es) => {
            "Elija qué tan satisfecho está, o qué tan probable es que nos recomiende."
        }
        (SurveyError::Empty, Lang::PtBr) => "Escolha sua satisfação ou a chance de nos recomendar.",
        (SurveyError::Csat, Lang::En) => "Satisfaction is 1 to 5.",
        (SurveyError::Csat, Lang::Es) => "La satisfacción va de 1 a 5.",
        (SurveyError::Csat, Lang::PtBr) => "A satisfação vai de 1 a 5.",
        (SurveyError::Nps, Lang::En) => "The recommendation is 0 to 10.",
        (SurveyError::Nps, Lang::Es) => "La recomendación va de 0 a 10.",
        (SurveyError::Nps, Lang::PtBr) => "A recomendação vai de 0 a 10.",
        (SurveyError::Comment, Lang::En) => "The comment is longer than 2,000 characters.",
        (SurveyError::Comment, Lang::Es) => "El comentario supera los 2.000 caracteres.",
        (SurveyError::Comment, Lang::PtBr) => "O comentário passa de 2.000 caracteres.",
        (SurveyError::Closed, l) => survey_words(l).closed,
        (SurveyError::Settled, Lang::En) => "This answer was given more than a day ago and stands.",
        (SurveyError::Settled, Lang::Es) => "Esta respuesta se dio hace más de un día y queda así.",
        (SurveyError::Settled, Lang::PtBr) => {
            "Esta resposta foi dada há mais de um dia e fica como está."
        }
    }
}

/// A survey on WhatsApp: an interactive list of the five CSAT answers, each row's id
/// naming the survey and the answer (`survey:<token>:<1-5>`); the NPS and the comment stay
/// on the survey's page (a list holds ten rows at most, NPS has eleven).
pub struct WhatsappSurvey {
    /// The list's button (at most 20 characters).
    pub button: &'static str,
    /// The rows, best first (at most 24 characters each).
    pub rows: [(i64, &'static str); 5],
    /// The answer to a chosen row, before the page's link.
    pub thanks: &'static str,
}

pub fn whatsapp_survey(lang: Lang) -> WhatsappSurvey {
    match lang {
        Lang::En => WhatsappSurvey {
            button: "Rate us",
            rows: [
                (5, "5 · Very satisfied"),
                (4, "4 · Satisfied"),
                (3, "3 · Neutral"),
                (2, "2 · Unsatisfied"),
                (1, "1 · Very unsatisfied"),
            ],
            thanks: "Thank you for your answer! If you like, tell us more here:",
        },
        Lang::Es => WhatsappSurvey {
            button: "Calificar",
            rows: [
                (5, "5 · Muy satisfecho"),
                (4, "4 · Satisfecho"),
                (3, "3 · Neutral"),
                (2, "2 · Insatisfecho"),
                (1, "1 · Muy insatisfecho"),
            ],
            thanks: "¡Gracias por tu respuesta! Si quieres, cuéntanos más aquí:",
        },
        Lang::PtBr => WhatsappSurvey {
            button: "Avaliar",
            rows: [
                (5, "5 · Muito satisfeito"),
                (4, "4 · Satisfeito"),
                (3, "3 · Neutro"),
                (2, "2 · Insatisfeito"),
                (1, "1 · Muito insatisfeito"),
            ],
            thanks: "Obrigado pela resposta! Se quiser, conte mais aqui:",
        },
    }
}

/// A list row's id for an answer to a survey.
pub fn list_id(token: &str, csat: i64) -> String {
    format!("survey:{token}:{csat}")
}

/// The survey's token and the CSAT answer a chosen row names, if it names one.
pub fn read_list_id(id: &str) -> Option<(&str, i64)> {
    let rest = id.strip_prefix("survey:")?;
    let (token, csat) = rest.rsplit_once(':')?;
    let csat: i64 = csat.parse().ok()?;
    (!token.is_empty() && (1..=5).contains(&csat)).then_some((token, csat))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_and_refused_with_their_reason() {
        assert_eq!(
            answer("4", " 9 ", "  Ótimo atendimento  "),
            Ok(Answer {
                csat: Some(4),
                nps: Some(9),
                comment: Some("Ótimo atendimento".into())
            })
        );
        assert_eq!(
            answer("", "0", ""),
            Ok(Answer {
                csat: None,
                nps: Some(0),
                comment: None
            })
        );
        assert_eq!(answer("", "", "only words"), Err(SurveyError::Empty));
        for bad in ["0", "6", "five", "-1", "4.5"] {
            assert_eq!(answer(bad, "", ""), Err(SurveyError::Csat), "{bad}");
        }
        for bad in ["11", "-1", "dez"] {
            assert_eq!(answer("", bad, ""), Err(SurveyError::Nps), "{bad}");
        }
        assert_eq!(
            answer("5", "", &"x".repeat(2_001)),
            Err(SurveyError::Comment)
        );
        for lang in [Lang::En, Lang::Es, Lang::PtBr] {
            for e in [
                SurveyError::Empty,
                SurveyError::Csat,
                SurveyError::Nps,
                SurveyError::Comment,
                SurveyError::Closed,
                SurveyError::Settled,
            ] {
                assert!(!survey_error(&e, lang).is_empty());
            }
        }
    }

    #[test]
    fn an_answer_may_change_for_a_day_and_a_survey_closes() {
        let (t0, expires) = (1_000_000_000_000, 1_000_000_000_000 + OPEN_MS);
        assert_eq!(may_answer(t0, expires, None), Ok(()));
        assert_eq!(may_answer(expires, expires, None), Err(SurveyError::Closed));
        assert_eq!(may_answer(t0 + CHANGE_MS, expires, Some(t0)), Ok(()));
        assert_eq!(
            may_answer(t0 + CHANGE_MS + 1, expires, Some(t0)),
            Err(SurveyError::Settled)
        );
        // Answered just before it closed: still changeable for its day.
        assert_eq!(
            may_answer(expires + 1_000, expires, Some(expires - 1_000)),
            Ok(())
        );
    }

    #[test]
    fn nps_and_csat_are_worked_out_as_by_hand() {
        let mut r = Results::default();
        // 10 NPS answers: 5 promoters, 3 passives, 2 detractors: 50 − 20 = 30.
        for n in [10, 9, 9, 10, 9, 8, 7, 8, 3, 6] {
            r.add(None, Some(n));
        }
        assert_eq!(r.nps(), Some(30));
        // CSAT 5, 4, 3, 2: two satisfied of four, 50 %; average 3.50.
        for c in [5, 4, 3, 2] {
            r.add(Some(c), None);
        }
        assert_eq!((r.csat_percent(), r.csat_average()), (Some(50), Some(350)));
        // Rounding: 1 promoter of 3 is 33.3 → 33; 2 detractors of 3 → −67.
        let mut r = Results::default();
        for n in [9, 7, 8] {
            r.add(None, Some(n));
        }
        assert_eq!(r.nps(), Some(33));
        let mut r = Results::default();
        for n in [0, 5, 10] {
            r.add(None, Some(n));
        }
        assert_eq!(r.nps(), Some(-33));
        let mut r = Results::default();
        for n in [0, 5, 8] {
            r.add(None, Some(n));
        }
        assert_eq!(r.nps(), Some(-67));
        assert_eq!(Results::default().nps(), None);
        // 2 of 3 satisfied: 66.7 → 67 %; average (5+4+1)/3 = 3.33.
        let mut r = Results::default();
        for c in [5, 4, 1] {
            r.add(Some(c), None);
        }
        assert_eq!((r.csat_percent(), r.csat_average()), (Some(67), Some(333)));
    }

    #[test]
    fn a_whatsapp_survey_fits_the_list_and_its_ids_read_back() {
        for lang in [Lang::En, Lang::Es, Lang::PtBr] {
            let w = whatsapp_survey(lang);
            assert!(w.button.chars().count() <= 20, "{}", w.button);
            for (n, title) in w.rows {
                assert!(title.chars().count() <= 24, "{title}");
                assert_eq!(read_list_id(&list_id("tok-1", n)), Some(("tok-1", n)));
            }
        }
        for bad in [
            "survey:tok:6",
            "survey:tok:0",
            "survey::3",
            "survey:tok",
            "x:tok:3",
            "survey:tok:three",
        ] {
            assert_eq!(read_list_id(bad), None, "{bad}");
        }
    }
}
