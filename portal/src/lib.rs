//! Client portal and billing: auth, invoices, estimates, payments, tickets, equipment, surveys.

pub mod numbering;
pub mod status;
pub mod stripe;
pub mod totals;
