//! Client portal and billing: auth, invoices, estimates, payments, tickets, equipment, surveys.
