//! Writing a [`Report`](crate::Report): [`text`] for people, [`json`] for scripts (one
//! document, schema in `crates/validate/schema/report.schema.json`) and [`sarif`] (SARIF 2.1.0)
//! for code-scanning tools.

pub mod json;
pub mod sarif;
pub mod text;

/// The output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Lines for a terminal.
    #[default]
    Text,
    /// One JSON document.
    Json,
    /// SARIF 2.1.0.
    Sarif,
}

/// Whether text output uses ANSI colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Colour {
    /// Colour the status words.
    Always,
    /// Plain text.
    Never,
}

/// `report` in `format`.
pub fn render(report: &crate::Report, format: Format, colour: Colour) -> String {
    match format {
        Format::Text => text::render(report, colour),
        Format::Json => json::render(report),
        Format::Sarif => sarif::render(report),
    }
}
