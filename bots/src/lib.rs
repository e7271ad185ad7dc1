//! The N1 bot: answers from the knowledge base with a calibrated confidence, or hands
//! over to people. Handoff is a structured action, never a match on the bot's own text.

pub mod brain;
#[cfg(feature = "semantic")]
pub mod e5;
pub mod handoff;
pub mod hook;
pub mod model;
pub mod policy;
#[cfg(feature = "semantic")]
pub mod semantic;
pub mod vocab;
