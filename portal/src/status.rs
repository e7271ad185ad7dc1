//! The status a document shows, derived from what is stored and the clock: an invoice
//! whose due date has passed with money still owed shows Overdue, an estimate past its
//! validity shows Expired. Nothing is written when a day passes, so no job can forget to.
//! Days are counted in the business's own calendar (days since 1970-01-01, local).
//!
//! The statuses shown: Overdue, Partially paid and Paid for an invoice; Expired for an
//! estimate.

use serde::{Deserialize, Serialize};

/// What is stored for an invoice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stored {
    Draft,
    Sent,
    /// The client opened it.
    Viewed,
    Void,
}

/// What an invoice shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Shown {
    Draft,
    Sent,
    Viewed,
    PartiallyPaid,
    Paid,
    Overdue,
    Void,
}

/// An invoice's status today: `paid` is payments less refunds, in minor units.
pub fn invoice(stored: Stored, total: i64, paid: i64, due_day: Option<i64>, today: i64) -> Shown {
    match stored {
        Stored::Void => Shown::Void,
        Stored::Draft => Shown::Draft,
        _ if paid >= total && total > 0 => Shown::Paid,
        _ if due_day.is_some_and(|d| today > d) && paid < total => Shown::Overdue,
        _ if paid > 0 => Shown::PartiallyPaid,
        Stored::Viewed => Shown::Viewed,
        Stored::Sent => Shown::Sent,
    }
}

/// What is stored for an estimate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EstimateStored {
    Draft,
    Sent,
    Accepted,
    Declined,
}

/// What an estimate shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EstimateShown {
    Draft,
    Sent,
    Accepted,
    Declined,
    Expired,
}

pub fn estimate(stored: EstimateStored, valid_until: Option<i64>, today: i64) -> EstimateShown {
    match stored {
        EstimateStored::Draft => EstimateShown::Draft,
        EstimateStored::Accepted => EstimateShown::Accepted,
        EstimateStored::Declined => EstimateShown::Declined,
        EstimateStored::Sent if valid_until.is_some_and(|d| today > d) => EstimateShown::Expired,
        EstimateStored::Sent => EstimateShown::Sent,
    }
}

/// Whether a client may still accept or decline an estimate today.
pub fn estimate_answerable(stored: EstimateStored, valid_until: Option<i64>, today: i64) -> bool {
    estimate(stored, valid_until, today) == EstimateShown::Sent
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invoice_moves_through_its_states_as_money_and_days_come() {
        let due = Some(100);
        assert_eq!(
            invoice(Stored::Draft, 1000, 0, due, 200),
            Shown::Draft,
            "a draft is never overdue"
        );
        assert_eq!(invoice(Stored::Sent, 1000, 0, due, 99), Shown::Sent);
        assert_eq!(
            invoice(Stored::Viewed, 1000, 0, due, 100),
            Shown::Viewed,
            "due today is not late"
        );
        assert_eq!(
            invoice(Stored::Viewed, 1000, 400, due, 100),
            Shown::PartiallyPaid
        );
        assert_eq!(invoice(Stored::Viewed, 1000, 400, due, 101), Shown::Overdue);
        assert_eq!(
            invoice(Stored::Sent, 1000, 1000, due, 101),
            Shown::Paid,
            "paid late is paid"
        );
        assert_eq!(
            invoice(Stored::Sent, 1000, 1200, due, 50),
            Shown::Paid,
            "overpaid"
        );
        assert_eq!(invoice(Stored::Void, 1000, 0, due, 500), Shown::Void);
        assert_eq!(
            invoice(Stored::Sent, 1000, 0, None, 10_000),
            Shown::Sent,
            "no due date"
        );
        // A refund after payment brings the debt back.
        assert_eq!(invoice(Stored::Sent, 1000, 600, due, 101), Shown::Overdue);
        assert_eq!(
            invoice(Stored::Sent, 0, 0, due, 101),
            Shown::Sent,
            "nothing owed, nothing late"
        );
    }

    #[test]
    fn an_estimate_expires_unless_answered() {
        let until = Some(30);
        assert_eq!(
            estimate(EstimateStored::Sent, until, 30),
            EstimateShown::Sent
        );
        assert_eq!(
            estimate(EstimateStored::Sent, until, 31),
            EstimateShown::Expired
        );
        assert_eq!(
            estimate(EstimateStored::Accepted, until, 99),
            EstimateShown::Accepted
        );
        assert_eq!(
            estimate(EstimateStored::Declined, until, 99),
            EstimateShown::Declined
        );
        assert_eq!(
            estimate(EstimateStored::Draft, until, 99),
            EstimateShown::Draft
        );
        assert!(estimate_answerable(EstimateStored::Sent, until, 30));
        assert!(!estimate_answerable(EstimateStored::Sent, until, 31));
        assert!(!estimate_answerable(EstimateStored::Accepted, until, 1));
        assert!(estimate_answerable(EstimateStored::Sent, None, 1_000_000));
    }
}
