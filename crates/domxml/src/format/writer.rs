//! A small XML writer: 2-space indentation, attributes in single quotes, libvirt's escaping.

use std::fmt::{Display, Write};

use crate::model::{Extra, RawXml};

/// Appends indented elements to a string.
pub(crate) struct Writer {
    out: String,
    depth: usize,
}

/// The attribute list of the element being opened.
pub(crate) struct Attrs<'w> {
    out: &'w mut String,
}

impl Attrs<'_> {
    /// `name='value'`.
    pub(crate) fn attr(&mut self, name: &str, value: impl Display) -> &mut Self {
        self.out.push(' ');
        self.out.push_str(name);
        self.out.push_str("='");
        let _ = write!(
            Escaper {
                out: self.out,
                attribute: true,
            },
            "{value}"
        );
        self.out.push('\'');
        self
    }

    /// `name='value'` when there is a value.
    pub(crate) fn opt<T: Display>(&mut self, name: &str, value: Option<T>) -> &mut Self {
        if let Some(value) = value {
            self.attr(name, value);
        }
        self
    }

    /// The unknown attributes kept from the input.
    pub(crate) fn extra(&mut self, extra: &Extra) -> &mut Self {
        for (name, value) in &extra.attributes {
            self.attr(name, value);
        }
        self
    }
}

impl Writer {
    pub(crate) fn new() -> Self {
        Writer {
            out: String::with_capacity(8 * 1024),
            depth: 0,
        }
    }

    pub(crate) fn finish(self) -> String {
        self.out
    }

    fn indent(&mut self) {
        for _ in 0..self.depth {
            self.out.push_str("  ");
        }
    }

    /// An element with attributes and children; self-closing when no child was written.
    pub(crate) fn element(
        &mut self,
        name: &str,
        attrs: impl FnOnce(&mut Attrs<'_>),
        children: impl FnOnce(&mut Writer),
    ) {
        self.indent();
        self.out.push('<');
        self.out.push_str(name);
        attrs(&mut Attrs { out: &mut self.out });
        let open_end = self.out.len();
        self.out.push_str(">\n");
        let children_start = self.out.len();
        self.depth += 1;
        children(self);
        self.depth -= 1;
        if self.out.len() == children_start {
            self.out.truncate(open_end);
            self.out.push_str("/>\n");
        } else {
            self.indent();
            let _ = writeln!(self.out, "</{name}>");
        }
    }

    /// An element with attributes only.
    pub(crate) fn empty(&mut self, name: &str, attrs: impl FnOnce(&mut Attrs<'_>)) {
        self.element(name, attrs, |_| {});
    }

    /// `<name attrs>text</name>`.
    pub(crate) fn text_element(
        &mut self,
        name: &str,
        attrs: impl FnOnce(&mut Attrs<'_>),
        text: impl Display,
    ) {
        self.indent();
        self.out.push('<');
        self.out.push_str(name);
        attrs(&mut Attrs { out: &mut self.out });
        self.out.push('>');
        let _ = write!(
            Escaper {
                out: &mut self.out,
                attribute: false,
            },
            "{text}"
        );
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push_str(">\n");
    }

    /// `<name>text</name>` when there is a text.
    pub(crate) fn opt_text(&mut self, name: &str, text: Option<impl Display>) {
        if let Some(text) = text {
            self.text_element(name, |_| {}, text);
        }
    }

    /// `<name/>` when `present`.
    pub(crate) fn flag(&mut self, name: &str, present: bool) {
        if present {
            self.empty(name, |_| {});
        }
    }

    /// An element kept verbatim.
    pub(crate) fn raw(&mut self, raw: &RawXml) {
        self.indent();
        self.out.push_str(&raw.xml);
        self.out.push('\n');
    }

    /// `<name>` followed by `inner` verbatim and `</name>`; `<name/>` when `inner` is empty.
    pub(crate) fn raw_inner(&mut self, name: &str, inner: &str) {
        self.indent();
        if inner.is_empty() {
            let _ = writeln!(self.out, "<{name}/>");
        } else {
            let _ = writeln!(self.out, "<{name}>{inner}</{name}>");
        }
    }

    /// The unknown child elements kept from the input.
    pub(crate) fn extra(&mut self, extra: &Extra) {
        for raw in &extra.elements {
            self.raw(raw);
        }
    }
}

/// Escapes what is written through it: text for XML, and in attributes also quotes and the
/// whitespace characters that attribute normalisation would turn into spaces, so values survive
/// a round trip.
struct Escaper<'s> {
    out: &'s mut String,
    attribute: bool,
}

impl std::fmt::Write for Escaper<'_> {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        escape_into(self.out, text, self.attribute);
        Ok(())
    }
}

pub(super) fn escape_into(out: &mut String, text: &str, attribute: bool) {
    let plain = |c: char| !matches!(c, '&' | '<' | '>' | '\r' | '\'' | '"' | '\n' | '\t');
    if text.chars().all(plain) {
        out.push_str(text);
        return;
    }
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            '\'' if attribute => out.push_str("&apos;"),
            '"' if attribute => out.push_str("&quot;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\t' if attribute => out.push_str("&#9;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_elements_self_close_and_children_indent() {
        let mut w = Writer::new();
        w.element(
            "a",
            |a| {
                a.attr("x", "it's <&>");
            },
            |w| {
                w.empty("b", |a| {
                    a.opt("y", Some(1)).opt::<u8>("z", None);
                });
                w.element("c", |_| {}, |_| {});
                w.text_element("d", |_| {}, "1 < 2 & 'q'");
            },
        );
        assert_eq!(
            w.finish(),
            "<a x='it&apos;s &lt;&amp;&gt;'>\n  <b y='1'/>\n  <c/>\n  <d>1 &lt; 2 &amp; 'q'</d>\n</a>\n"
        );
    }
}
