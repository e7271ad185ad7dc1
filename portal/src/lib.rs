//! Client portal and billing: auth, invoices, estimates, payments, tickets, equipment, surveys.

pub mod contracts;
pub mod csv;
pub mod document;
pub mod geo;
pub mod locale;
pub mod machines;
pub mod numbering;
pub mod overage;
pub mod pdf;
pub mod readings;
pub mod status;
pub mod stripe;
pub mod surveys;
pub mod totals;
pub mod visits;
pub mod zip;
