//! The N1 bot: answers from the knowledge base with a calibrated confidence, or hands off.
