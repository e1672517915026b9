//! Moat's security models for one guest (skeleton; filled in by issue 6).
