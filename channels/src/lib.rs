//! Channel adapters: wire input to normalized envelopes, and each channel's outbound sender.
