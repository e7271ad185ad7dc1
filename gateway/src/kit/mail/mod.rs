//! The email mailboxes (the configuration file's and the settings page's), their IMAP
//! readers, the intake every mail goes through (webhook or IMAP), and the notices mailed
//! to clients.

pub mod intake;
pub mod mailboxes;
pub mod notices;
pub mod poller;
